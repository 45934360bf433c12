import type { RedisClient } from '../shared/redis.js';
import { DelayedError, Worker, type FlowProducer, type Job, type Queue } from 'bullmq';
import type { JobPlan } from '../definition/parse.js';
import { WarmerError, describeError, type ErrorCode } from '../shared/errors.js';
import type { Unit } from './units.js';
import { finishRun, refreshUnits, type RunContext, type RunResult, type UnitsOutcome } from './run-job.js';

/**
 * Fan-out across replicas. A scheduled run of a per-project job with more
 * units than one batch becomes a BullMQ flow: one child job per batch of
 * units, which any replica's worker may take, and a parent that BullMQ runs
 * once every batch is done, to record the run. A unit that failed for a
 * transient reason is retried alone, as a one-unit batch added to the same
 * parent after a backoff; one slow project holds up only its own batch.
 */
export interface FanOutData {
  trigger: 'schedule' | 'manual';
  phase: 'batch' | 'finish';
  /** When the run started: `cached_at` of its values and the start of its duration. */
  started: number;
  /** Batch: its units. */
  units?: Unit[];
  /** Batch: which attempt of these units this is. */
  attempt?: number;
  /** Finish: how many units the run has, to notice batches that never reported. */
  total?: number;
}

/** What a batch job returns (job return values are JSON). */
export interface BatchReport {
  itemsOk: number;
  itemsFailed: number;
  itemsGone: number;
  keysWritten: number;
  bytesWritten: number;
  staleExtended: number;
  /** Units handed to a retry batch: reported by that batch. */
  retried: number;
  auth: boolean;
  error?: { code: string; message: string };
}

export interface FanOutOptions {
  queue: Queue;
  /** The queue's Redis, for the open-run mark. */
  redis: RedisClient;
  flow: FlowProducer;
  batchSize: number;
  jobOptions: Record<string, unknown>;
}

/** Transient unit failures are retried this many times, alone, before they count as failed. */
const UNIT_ATTEMPTS = 3;
const UNIT_RETRY_BASE_MS = 2_000;

/** Priority of a job's batches in the queue (lower runs first): the shorter the cadence, the sooner. */
export function priorityOf(plan: JobPlan): number {
  return Math.min(1_000, Math.max(1, Math.ceil((plan.everyMs ?? 3_600_000) / 60_000)));
}

/** The key that says a job's fanned-out run is still open (in the queue's Redis). */
function openRunKey(options: FanOutOptions, plan: JobPlan): string {
  return `${options.queue.opts.prefix ?? 'bull'}:${options.queue.name}:open-run:${plan.job.name}`;
}

/**
 * Splits a run into a flow: the batches as children, the parent to finish the
 * run. Returns 0 without adding anything while the job's previous fanned-out
 * run is still open: when runs take longer than the cadence (a tight rate
 * limit), ticks are skipped instead of piling batches up in the queue. The
 * mark expires after max(2 cadences, 10 min), should a finish never come.
 */
export async function fanOut(plan: JobPlan, units: readonly Unit[], data: { trigger: FanOutData['trigger']; started: number }, options: FanOutOptions): Promise<number> {
  const client = options.redis;
  const holdMs = Math.max(2 * (plan.everyMs ?? 3_600_000), 10 * 60_000);
  if ((await client.set(openRunKey(options, plan), String(data.started), 'PX', holdMs, 'NX')) !== 'OK') return 0;
  const children = [];
  for (let i = 0; i < units.length; i += options.batchSize) {
    children.push({
      name: plan.job.name,
      queueName: options.queue.name,
      data: { ...data, phase: 'batch', units: units.slice(i, i + options.batchSize), attempt: 1 } satisfies FanOutData,
      // A batch whose worker failed outright must not block the run's record.
      opts: { ...options.jobOptions, priority: priorityOf(plan), ignoreDependencyOnFailure: true },
    });
  }
  await options.flow.add({
    name: plan.job.name,
    queueName: options.queue.name,
    data: { ...data, phase: 'finish', total: units.length } satisfies FanOutData,
    opts: { ...options.jobOptions, priority: priorityOf(plan) },
    children,
  });
  return children.length;
}

/** One batch: refresh its units, hand transient failures to a retry batch, report. */
export async function runBatch(
  plan: JobPlan,
  job: Job<FanOutData>,
  token: string | undefined,
  worker: Worker,
  context: RunContext,
  options: FanOutOptions,
): Promise<BatchReport> {
  const data = job.data;
  // cached_at (and the daily-stats day) is when the data is fetched, not when the run began.
  const outcome = await refreshUnits(plan, data.units ?? [], context, new Date());
  if (outcome.stop === 'throttled') {
    const delay = context.upstream.throttle.take();
    await context.status.recordThrottle(plan.job.name, Date.now(), delay);
    await worker.rateLimit(Math.max(1, delay));
    throw Worker.RateLimitError();
  }
  if (outcome.stop === 'shutdown' && token) {
    await job.moveToDelayed(Date.now() + 1_000, token);
    throw new DelayedError();
  }
  const attempt = data.attempt ?? 1;
  const retry = attempt < UNIT_ATTEMPTS && job.parent?.id ? outcome.retryable : [];
  for (const unit of retry) {
    await options.queue.add(plan.job.name, { ...data, units: [unit], attempt: attempt + 1 } satisfies FanOutData, {
      ...options.jobOptions,
      priority: priorityOf(plan),
      ignoreDependencyOnFailure: true,
      delay: UNIT_RETRY_BASE_MS * 2 ** (attempt - 1),
      parent: { id: job.parent!.id!, queue: job.parent!.queueKey },
    });
  }
  const failed = outcome.itemsFailed - retry.length;
  context.logger.debug(
    { job: plan.job.name, units: data.units?.length ?? 0, attempt, itemsOk: outcome.itemsOk, failed, retried: retry.length },
    'batch done',
  );
  return {
    itemsOk: outcome.itemsOk,
    itemsFailed: failed,
    itemsGone: outcome.itemsGone,
    keysWritten: outcome.keysWritten,
    bytesWritten: outcome.bytesWritten,
    staleExtended: outcome.staleExtended,
    retried: retry.length,
    auth: outcome.stop === 'auth',
    ...(failed > 0 && outcome.firstError ? { error: errorReport(outcome.firstError) } : {}),
  };
}

/** The parent: every batch (and retry) is done; record the run once and let the next run start. */
export async function finishFanOut(plan: JobPlan, job: Job<FanOutData>, context: RunContext, options?: FanOutOptions): Promise<RunResult> {
  if (options) await options.redis.del(openRunKey(options, plan));
  const reports = Object.values(await job.getChildrenValues<BatchReport>());
  const sum = (field: keyof Pick<BatchReport, 'itemsOk' | 'itemsFailed' | 'itemsGone' | 'keysWritten' | 'bytesWritten' | 'staleExtended'>) =>
    reports.reduce((n, r) => n + (r?.[field] ?? 0), 0);
  const outcome: UnitsOutcome = {
    itemsOk: sum('itemsOk'),
    itemsFailed: sum('itemsFailed'),
    itemsGone: sum('itemsGone'),
    keysWritten: sum('keysWritten'),
    bytesWritten: sum('bytesWritten'),
    staleExtended: sum('staleExtended'),
    retryable: [],
    ...(reports.some((r) => r?.auth) ? { stop: 'auth' as const } : {}),
  };
  const firstError = reports.find((r) => r?.error)?.error;
  if (firstError) outcome.firstError = new WarmerError(firstError.code as ErrorCode, firstError.message);
  const lost = (job.data.total ?? 0) - outcome.itemsOk - outcome.itemsFailed - outcome.itemsGone;
  if (lost > 0) {
    outcome.itemsFailed += lost;
    outcome.firstError ??= new WarmerError('ERR_REFRESH_PARTIAL', `${lost} units were not refreshed: their batch failed`);
  }
  return finishRun(plan, context, job.data.trigger, job.data.started, outcome);
}

function errorReport(error: Error): { code: string; message: string } {
  const text = describeError(error);
  const code = error instanceof WarmerError ? error.code : 'ERR_REFRESH_PARTIAL';
  return { code, message: text.startsWith(`${code}: `) ? text.slice(code.length + 2) : text };
}
