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
import { isProjectGone, isProviderScope, listProjects, markProjectGone, warmProviderScope } from './projects.js';
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
  /** Units in flight at once within this run (requests are capped per process by the upstream client). */
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

/**
 * Where a run is, for a progress display (`--once` on a terminal): units
 * listed, finished (in any way) and, of those, failed or skipped (not
 * started: throttling, a refused token or shutdown stopped the run).
 */
export interface RunProgress {
  job: string;
  total: number;
  done: number;
  failed: number;
  skipped: number;
}

export type ProgressListener = (progress: RunProgress) => void;

/** How one unit ended, as refreshUnits reports it to an optional listener. */
export type UnitEnd = 'ok' | 'gone' | 'failed' | 'skipped';

/** How many failed units of one run are logged one by one; the rest are counted. */
const UNIT_FAILURES_LOGGED = 3;

/** What refreshing a set of units did. */
export interface UnitsOutcome {
  itemsOk: number;
  itemsFailed: number;
  itemsGone: number;
  keysWritten: number;
  bytesWritten: number;
  staleExtended: number;
  /** Why the refresh stopped starting units, if it did. */
  stop?: 'throttled' | 'auth' | 'shutdown';
  firstError?: Error;
  /** Failed units that another attempt may fix (transient failures). */
  retryable: Unit[];
}

/**
 * Refreshes units with bounded concurrency: writes each unit's keys once the
 * whole unit has been fetched and validated, caches deleted projects as
 * gone, and serves the failed (and skipped) units' old values stale.
 * Throttling, a refused token or shutdown stop it from starting more units.
 */
export async function refreshUnits(plan: JobPlan, units: readonly Unit[], context: RunContext, now: Date, onUnitEnd?: (end: UnitEnd) => void): Promise<UnitsOutcome> {
  const log = context.logger.child({ job: plan.job.name });
  const ended = (end: UnitEnd) => {
    try {
      onUnitEnd?.(end);
    } catch (error) {
      // A display must never fail a refresh.
      log.debug({ err: error }, 'progress listener failed');
    }
  };
  const writer = new BatchWriter(context.cache);
  const outcome: UnitsOutcome = { itemsOk: 0, itemsFailed: 0, itemsGone: 0, keysWritten: 0, bytesWritten: 0, staleExtended: 0, retryable: [] };
  const notRefreshed: Unit[] = [];
  const fetchContext = {
    ...context,
    now,
    retryBudget: new RetryBudget(units.length),
    horizonMs: horizonForCadence(plan.everyMs),
    isProjectGone: (projectId: string) => isProjectGone(context.projectsProvider, projectId, { ...context, now }),
  };
  try {
    await pMap(
      units,
      async (unit) => {
        if (outcome.stop || context.stopping?.aborted) {
          notRefreshed.push(unit);
          ended('skipped');
          return;
        }
        try {
          if (isProviderScope(plan, unit)) {
            // A scope of the projects list may already be in flight for another job's cold start: joined, not fetched twice.
            writer.count((await warmProviderScope(plan, unit.variant, fetchContext)).written);
          } else {
            writer.add((await fetchUnit(plan, unit, fetchContext)).entries);
          }
          outcome.itemsOk += 1;
          ended('ok');
        } catch (error) {
          if (error instanceof ProjectGoneError) {
            try {
              await markProjectGone(context.projectsProvider, error.projectId, context.cache, now);
              outcome.itemsGone += 1;
              log.info({ project: error.projectId }, 'project deleted upstream: cached as gone and left out of the fan-out');
              ended('gone');
              return;
            } catch (markError) {
              error = markError;
            }
          }
          outcome.stop ??= stopReason(error);
          outcome.itemsFailed += 1;
          notRefreshed.push(unit);
          if (!outcome.stop && isWarmerError(error) && (error as { retryable?: boolean }).retryable) outcome.retryable.push(unit);
          outcome.firstError ??= error as Error;
          if (outcome.itemsFailed <= UNIT_FAILURES_LOGGED && !outcome.stop) {
            log.warn({ unit: describeUnit(plan.job.name, unit), err: error }, 'unit refresh failed; its keys keep their last value');
          }
          ended('failed');
        }
      },
      { concurrency: context.concurrency },
    );
  } finally {
    const totals = await writer.flush().catch((error: unknown) => {
      // Fetched but not stored: those units did not refresh (their old values stay).
      outcome.firstError = error as Error;
      outcome.itemsFailed += outcome.itemsOk;
      outcome.itemsOk = 0;
      return writer.totals;
    });
    outcome.keysWritten = totals.keys;
    outcome.bytesWritten = totals.bytes;
  }
  if (!outcome.stop && context.stopping?.aborted && notRefreshed.length > 0) outcome.stop = 'shutdown';
  try {
    outcome.staleExtended = await serveStale(plan, notRefreshed, context.cache);
  } catch (error) {
    log.warn({ err: error }, 'could not extend the TTL of stale values');
  }
  return outcome;
}

/** Why an error stops a run from starting more units, if it does. */
export function stopReason(error: unknown): UnitsOutcome['stop'] {
  if (isThrottle(error)) return 'throttled';
  if (isAuthFailure(error)) return 'auth';
  if (isWarmerError(error) && error.code === 'ERR_ABORTED') return 'shutdown';
  return undefined;
}

/**
 * Runs one refresh of a job in this process: lists its units, refreshes them
 * (see refreshUnits) and records the run in the status store. A failed unit
 * writes nothing, so its previous value stays as it was. `onProgress`, when
 * given, hears the total once the units are listed, then after every unit,
 * and a last time with the final counts (a failed write of fetched units
 * turns them into failures only then).
 */
export async function runJob(plan: JobPlan, context: RunContext, trigger: RunRecord['trigger'], onProgress?: ProgressListener): Promise<RunResult> {
  const started = Date.now();
  let outcome: UnitsOutcome;
  try {
    const units = await listUnits(plan, context);
    const progress: RunProgress = { job: plan.job.name, total: units.length, done: 0, failed: 0, skipped: 0 };
    const report = () => {
      try {
        onProgress?.({ ...progress });
      } catch (error) {
        // A display must never fail a refresh.
        context.logger.debug({ err: error }, 'progress listener failed');
      }
    };
    report();
    outcome = await refreshUnits(
      plan,
      units,
      context,
      new Date(started),
      onProgress &&
        ((end) => {
          progress.done += 1;
          if (end === 'failed') progress.failed += 1;
          if (end === 'skipped') progress.skipped += 1;
          report();
        }),
    );
    if (onProgress) {
      progress.done = units.length;
      progress.failed = outcome.itemsFailed;
      report();
    }
  } catch (error) {
    outcome = { itemsOk: 0, itemsFailed: 0, itemsGone: 0, keysWritten: 0, bytesWritten: 0, staleExtended: 0, retryable: [], firstError: error as Error };
    const stop = stopReason(error);
    if (stop) outcome.stop = stop;
  }
  return finishRun(plan, context, trigger, started, outcome);
}

/** Turns what the units did into the run's outcome, and records it (or the throttling) in the status store. */
export async function finishRun(plan: JobPlan, context: RunContext, trigger: RunRecord['trigger'], started: number, o: UnitsOutcome): Promise<RunResult> {
  const log = context.logger.child({ job: plan.job.name });
  const stop = o.stop;
  let firstError = o.firstError;
  const outcome: RunOutcome = stop === 'throttled' ? 'throttled' : stop === 'shutdown' ? 'abandoned' : firstError ? 'failed' : 'ok';
  if (outcome === 'failed' && o.itemsOk > 0 && firstError && !isAuthFailure(firstError)) {
    firstError = new PartialRefreshError(o.itemsFailed, o.itemsFailed + o.itemsOk + o.itemsGone, firstError);
  }
  const result: RunResult = {
    job: plan.job.name,
    outcome,
    ok: outcome === 'ok',
    durationMs: Date.now() - started,
    keysWritten: o.keysWritten,
    bytesWritten: o.bytesWritten,
    itemsOk: o.itemsOk,
    itemsFailed: o.itemsFailed,
    itemsGone: o.itemsGone,
    staleExtended: o.staleExtended,
    ...(outcome === 'throttled' ? { retryAfterMs: context.upstream.throttle.take() } : {}),
    ...(firstError ? { error: firstError } : {}),
  };
  const summary = {
    outcome,
    keys: result.keysWritten,
    bytes: result.bytesWritten,
    itemsOk: o.itemsOk,
    itemsFailed: o.itemsFailed,
    itemsGone: o.itemsGone,
    staleExtended: o.staleExtended,
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
    // Every value of the run has cached_at ≥ this (but a list scope joined from another job's fetch, a moment older): the status store's data age starts here.
    startedAt: started,
    durationMs: result.durationMs,
    keysWritten: result.keysWritten,
    bytesWritten: result.bytesWritten,
    itemsOk: o.itemsOk,
    itemsFailed: o.itemsFailed,
    trigger,
    ...(firstError ? { error: describeError(firstError) } : {}),
  });
  if (result.ok) log.info(summary, 'refresh done');
  // A refused token is logged once, where the gate closes (daemon), not on every run.
  else if (stop === 'auth') log.debug({ ...summary, err: firstError }, 'refresh failed: upstream token refused');
  else log.error({ ...summary, err: firstError }, 'refresh failed');
  return result;
}

/** The units of one refresh: the variants, for each listed project when the job fans out over projects. */
export async function listUnits(plan: JobPlan, context: RunContext): Promise<Unit[]> {
  const variants: (string | undefined)[] = plan.job.variants ? [...plan.job.variants] : [undefined];
  const withVariant = (base: Unit) => variants.map((variant) => (variant === undefined ? base : { ...base, variant }));
  if (plan.job.fanOut === 'group') return withVariant({});
  const projects = await listProjects(context.projectsProvider, context);
  return projects.flatMap((projectId) => withVariant({ projectId }));
}
