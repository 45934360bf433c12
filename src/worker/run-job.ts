import pMap from 'p-map';
import type { Logger } from 'pino';
import type { Upstream } from '../upstream/client.js';
import { BatchWriter, type CacheStore } from '../cache/store.js';
import type { StatusStore, RunRecord } from '../status/store.js';
import type { JobPlan } from '../definition/parse.js';
import { PartialRefreshError, describeError } from '../shared/errors.js';
import { describeUnit, fetchUnit, type Unit } from './units.js';
import { listProjects } from './projects.js';

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
}

export interface RunResult {
  job: string;
  ok: boolean;
  durationMs: number;
  keysWritten: number;
  bytesWritten: number;
  itemsOk: number;
  itemsFailed: number;
  error?: Error;
}

/**
 * Runs one refresh of a job: lists its units, fetches them with bounded
 * concurrency, writes each unit's keys once the whole unit has been fetched
 * and validated, and records the run in the status store. A failed unit
 * writes nothing, so its previous value stays as it was.
 */
export async function runJob(plan: JobPlan, context: RunContext, trigger: RunRecord['trigger']): Promise<RunResult> {
  const started = Date.now();
  const now = new Date(started);
  const log = context.logger.child({ job: plan.job.name });
  const writer = new BatchWriter(context.cache);
  let itemsOk = 0;
  let itemsFailed = 0;
  let firstError: Error | undefined;

  try {
    const units = await listUnits(plan, context);
    await pMap(
      units,
      async (unit) => {
        try {
          const { entries } = await fetchUnit(plan, unit, { ...context, now });
          writer.add(entries);
          itemsOk += 1;
        } catch (error) {
          itemsFailed += 1;
          firstError ??= error as Error;
          log.warn({ unit: describeUnit(plan.job.name, unit), err: error }, 'unit refresh failed; its keys keep their last value');
        }
      },
      { concurrency: context.concurrency },
    );
    await writer.flush();
    if (firstError) {
      // All failed: the units' own error says most; some failed: say how many.
      firstError = itemsOk === 0 ? firstError : new PartialRefreshError(itemsFailed, itemsFailed + itemsOk, firstError);
    }
  } catch (error) {
    firstError = error as Error;
  }

  const result: RunResult = {
    job: plan.job.name,
    ok: !firstError,
    durationMs: Date.now() - started,
    keysWritten: writer.totals.keys,
    bytesWritten: writer.totals.bytes,
    itemsOk,
    itemsFailed,
    ...(firstError ? { error: firstError } : {}),
  };
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
  const summary = { keys: result.keysWritten, bytes: result.bytesWritten, itemsOk, itemsFailed, durationMs: result.durationMs, trigger };
  if (result.ok) log.info(summary, 'refresh done');
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
