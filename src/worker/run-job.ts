import pMap from 'p-map';
import type { Logger } from 'pino';
import type { Upstream } from '../upstream/client.js';
import { isAuthFailure, isThrottle } from '../upstream/errors.js';
import { RetryBudget } from '../upstream/retry-budget.js';
import { BatchWriter, type CacheStore } from '../cache/store.js';
import type { StatusStore, RunRecord } from '../status/store.js';
import type { JobPlan } from '../definition/parse.js';
import { PartialRefreshError, describeError, isWarmerError } from '../shared/errors.js';
import { describeUnit, fetchUnit, ProjectGoneError, type Unit } from './units.js';
import { isProjectGone, listProjects, markProjectGone } from './projects.js';
import { serveStale } from './stale.js';
import { horizonForCadence } from '../limit/upstream-limiter.js';

export interface RunContext {
  upstream: Upstream;
  cache: CacheStore;
  status: StatusStore;
  logger: Logger;
  groupId: string;
  timeZone: string;
  scopes: readonly string[];
  /** Requests in flight at once within this run. */
  concurrency: number;
  /** The job that lists projects, for per-project fan-out. */
  projectsProvider: JobPlan | undefined;
  /** Aborted at shutdown: no new unit starts. */
  stopping?: AbortSignal;
}

/**
 * - `ok`: every unit refreshed (or found gone).
 * - `failed`: some or all units failed; their keys keep their values, served stale.
 * - `throttled`: the upstream throttled; the run stopped early and should be
 *   retried after `retryAfterMs`. Not a failure.
 * - `abandoned`: shutdown stopped the run; it should run again elsewhere. Not a failure.
 */
export type RunOutcome = 'ok' | 'failed' | 'throttled' | 'abandoned';

export interface RunResult {
  job: string;
  outcome: RunOutcome;
  ok: boolean;
  durationMs: number;
  keysWritten: number;
  bytesWritten: number;
  itemsOk: number;
  itemsFailed: number;
  itemsGone: number;
  /** Keys whose TTL was extended because their refresh failed. */
  staleExtended: number;
  retryAfterMs?: number;
  error?: Error;
}

/** How many failed units of one run are logged one by one; the rest are counted. */
const UNIT_FAILURES_LOGGED = 3;

/**
 * Runs one refresh of a job: lists its units, fetches them with bounded
 * concurrency, writes each unit's keys once the whole unit has been fetched
 * and validated, serves the failed units' old values stale, and records the
 * run in the status store. A failed unit writes nothing, so its previous
 * value stays as it was. Throttling, a refused token or shutdown stop the run
 * from starting more units.
 */
export async function runJob(plan: JobPlan, context: RunContext, trigger: RunRecord['trigger']): Promise<RunResult> {
  const started = Date.now();
  const now = new Date(started);
  const log = context.logger.child({ job: plan.job.name });
  const writer = new BatchWriter(context.cache);
  let itemsOk = 0;
  let itemsFailed = 0;
  let itemsGone = 0;
  let firstError: Error | undefined;
  let stop: 'throttled' | 'auth' | 'shutdown' | undefined;
  const notRefreshed: Unit[] = [];

  const classify = (error: unknown) => {
    if (isThrottle(error)) stop ??= 'throttled';
    else if (isAuthFailure(error)) stop ??= 'auth';
    else if (isWarmerError(error) && error.code === 'ERR_ABORTED') stop ??= 'shutdown';
  };

  try {
    const units = await listUnits(plan, context);
    const fetchContext = {
      ...context,
      now,
      retryBudget: new RetryBudget(units.length),
      horizonMs: horizonForCadence(plan.everyMs),
      isProjectGone: (projectId: string) => isProjectGone(context.projectsProvider, projectId, { ...context, now }),
    };
    await pMap(
      units,
      async (unit) => {
        if (stop || context.stopping?.aborted) {
          notRefreshed.push(unit);
          return;
        }
        try {
          const { entries } = await fetchUnit(plan, unit, fetchContext);
          writer.add(entries);
          itemsOk += 1;
        } catch (error) {
          if (error instanceof ProjectGoneError) {
            await markProjectGone(context.projectsProvider, error.projectId, context.cache, now);
            itemsGone += 1;
            log.info({ project: error.projectId }, 'project deleted upstream: cached as gone and left out of the fan-out');
            return;
          }
          classify(error);
          itemsFailed += 1;
          notRefreshed.push(unit);
          firstError ??= error as Error;
          if (itemsFailed <= UNIT_FAILURES_LOGGED && !stop) {
            log.warn({ unit: describeUnit(plan.job.name, unit), err: error }, 'unit refresh failed; its keys keep their last value');
          }
        }
      },
      { concurrency: context.concurrency },
    );
    await writer.flush();
  } catch (error) {
    classify(error);
    firstError ??= error as Error;
  }
  if (!stop && context.stopping?.aborted && notRefreshed.length > 0) stop = 'shutdown';

  let staleExtended = 0;
  try {
    staleExtended = await serveStale(plan, notRefreshed, context.cache);
  } catch (error) {
    log.warn({ err: error }, 'could not extend the TTL of stale values');
  }

  const outcome: RunOutcome = stop === 'throttled' ? 'throttled' : stop === 'shutdown' ? 'abandoned' : firstError ? 'failed' : 'ok';
  if (outcome === 'failed' && itemsOk > 0 && firstError && !isAuthFailure(firstError)) {
    firstError = new PartialRefreshError(itemsFailed, itemsFailed + itemsOk + itemsGone, firstError);
  }
  const result: RunResult = {
    job: plan.job.name,
    outcome,
    ok: outcome === 'ok',
    durationMs: Date.now() - started,
    keysWritten: writer.totals.keys,
    bytesWritten: writer.totals.bytes,
    itemsOk,
    itemsFailed,
    itemsGone,
    staleExtended,
    ...(outcome === 'throttled' ? { retryAfterMs: context.upstream.throttle.take() } : {}),
    ...(firstError ? { error: firstError } : {}),
  };
  const summary = {
    outcome,
    keys: result.keysWritten,
    bytes: result.bytesWritten,
    itemsOk,
    itemsFailed,
    itemsGone,
    staleExtended,
    durationMs: result.durationMs,
    trigger,
  };

  if (outcome === 'throttled') {
    await context.status.recordThrottle(plan.job.name, Date.now(), result.retryAfterMs ?? 0);
    log.warn({ ...summary, retryAfterMs: result.retryAfterMs }, 'throttled by the upstream: backing off');
    return result;
  }
  if (outcome === 'abandoned') {
    log.info(summary, 'refresh abandoned at shutdown: it will run again');
    return result;
  }
  await context.status.record({
    job: result.job,
    ok: result.ok,
    at: Date.now(),
    durationMs: result.durationMs,
    keysWritten: result.keysWritten,
    bytesWritten: result.bytesWritten,
    itemsOk,
    itemsFailed,
    trigger,
    ...(firstError ? { error: describeError(firstError) } : {}),
  });
  if (result.ok) log.info(summary, 'refresh done');
  // A refused token is logged once, where the gate closes (daemon), not on every run.
  else if (stop === 'auth') log.debug({ ...summary, err: firstError }, 'refresh failed: upstream token refused');
  else log.error({ ...summary, err: firstError }, 'refresh failed');
  return result;
}

async function listUnits(plan: JobPlan, context: RunContext): Promise<Unit[]> {
  const variants: (string | undefined)[] = plan.job.variants ? [...plan.job.variants] : [undefined];
  const withVariant = (base: Unit) => variants.map((variant) => (variant === undefined ? base : { ...base, variant }));
  if (plan.job.fanOut === 'group') return withVariant({});
  const projects = await listProjects(context.projectsProvider, context);
  return projects.flatMap((projectId) => withVariant({ projectId }));
}
