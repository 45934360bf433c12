import type { RedisClient } from '../shared/redis.js';
import { DelayedError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { JobPlan } from '../definition/parse.js';
import type { WarmJobData } from '../schedule/schedulers.js';
import { finishRun, listUnits, refreshUnits, runJob, stopReason, type RunContext, type RunResult, type UnitsOutcome } from './run-job.js';
import { fanOut, finishFanOut, runBatch, type FanOutData, type FanOutOptions } from './fan-out.js';
import type { ErrorReporter } from '../shared/error-reporter.js';

export interface WorkerOptions {
  queueName: string;
  prefix: string;
  connection: RedisClient;
  concurrency: number;
  /** @defaultValue 30000 */
  lockDurationMs?: number;
  /** @defaultValue 30000 */
  stalledIntervalMs?: number;
  plans: ReadonlyMap<string, JobPlan>;
  run: RunContext;
  logger: Logger;
  /** Rate-limits the worker's background (connection) errors; without it each is logged. */
  reporter?: ErrorReporter;
  /** Spreads big per-project runs over the fleet as batches; without it every run is done here. */
  fanOut?: FanOutOptions;
  /** Called whenever a job starts or ends: the watchdog's proof of life. */
  onActivity?: () => void;
  /** Called with +1 when a job starts and -1 when it ends. */
  onActiveChange?: (delta: 1 | -1) => void;
}

/** An abandoned refresh goes back to the queue this soon, for another replica. */
const REQUEUE_DELAY_MS = 1_000;

/**
 * The BullMQ worker: each job is one refresh of the definition its name
 * names.
 * - Failed: thrown, so BullMQ counts it failed (the status store has the details).
 * - Throttled: the whole queue backs off (`worker.rateLimit`) for the
 *   upstream's delay and the job goes back to wait without failing (`RateLimitError`).
 * - Abandoned at shutdown: moved back to delayed for another replica.
 * - A job whose definition is gone or disabled completes without work: its
 *   scheduler is being removed.
 */
export function startWorker(options: WorkerOptions): Worker<WarmJobData> {
  const { logger } = options;
  /** One job: a whole run, a fan-out, a batch or the finish of a fanned-out run. */
  async function handle(job: Job<WarmJobData>, token?: string) {
    const plan = options.plans.get(job.name);
    if (!plan || !plan.enabled) {
      logger.warn({ job: job.name, id: job.id }, 'skipping a job that is not enabled here');
      return { skipped: true };
    }
    const trigger = job.data?.trigger === 'manual' ? 'manual' : 'schedule';
    const phase = (job.data as Partial<FanOutData> | undefined)?.phase;
    if (phase === 'batch' && options.fanOut) {
      return runBatch(plan, job as unknown as Job<FanOutData>, token, worker, options.run, options.fanOut);
    }
    let result: RunResult;
    if (phase === 'finish') {
      result = await finishFanOut(plan, job as unknown as Job<FanOutData>, options.run, options.fanOut);
    } else if (options.fanOut && plan.job.fanOut === 'projects') {
      // A run with more units than one batch is spread over the fleet; a small one runs here.
      const started = Date.now();
      let units;
      try {
        units = await listUnits(plan, options.run);
      } catch (error) {
        const failed: UnitsOutcome = { itemsOk: 0, itemsFailed: 0, itemsGone: 0, keysWritten: 0, bytesWritten: 0, staleExtended: 0, retryable: [], firstError: error as Error };
        const stop = stopReason(error);
        if (stop) failed.stop = stop;
        units = undefined;
        result = await finishRun(plan, options.run, trigger, started, failed);
      }
      if (units && units.length > options.fanOut.batchSize) {
        const batches = await fanOut(plan, units, { trigger, started }, options.fanOut);
        if (batches === 0) {
          logger.warn({ job: plan.job.name }, 'previous run still in progress: this tick is skipped (see the feasibility warning)');
          return { skipped: true };
        }
        logger.info({ job: plan.job.name, units: units.length, batches }, 'refresh spread over the fleet as batches');
        return { fannedOut: batches };
      }
      result ??= await finishRun(plan, options.run, trigger, started, await refreshUnits(plan, units ?? [], options.run, new Date(started)));
    } else {
      result = await runJob(plan, options.run, trigger);
    }
    if (result.outcome === 'throttled') {
      await worker.rateLimit(Math.max(1, result.retryAfterMs ?? 1_000));
      throw Worker.RateLimitError();
    }
    if (result.outcome === 'abandoned' && token) {
      await job.moveToDelayed(Date.now() + REQUEUE_DELAY_MS, token);
      throw new DelayedError();
    }
    if (result.error) throw result.error;
    return { keys: result.keysWritten, bytes: result.bytesWritten, items: result.itemsOk, durationMs: result.durationMs };
  }

  const worker: Worker<WarmJobData> = new Worker<WarmJobData>(
    options.queueName,
    async (job: Job<WarmJobData>, token?: string) => {
      options.onActivity?.();
      options.onActiveChange?.(1);
      try {
        return await handle(job, token);
      } finally {
        options.onActiveChange?.(-1);
      }
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      // BullMQ honours a manual rateLimit() only when a limiter is set; this
      // one never limits by itself (far above any job rate here).
      limiter: { max: 100_000, duration: 1_000 },
      autorun: true,
    },
  );
  // Background errors always have a listener: an unhandled 'error' would crash the daemon.
  worker.on('error', (error) => (options.reporter ? options.reporter.report('worker', error) : logger.error({ err: error }, 'worker error')));
  worker.on('failed', (job, error) => {
    options.onActivity?.();
    logger.debug({ job: job?.name, id: job?.id, err: error }, 'job failed');
  });
  worker.on('completed', () => options.onActivity?.());
  worker.on('stalled', (id) => logger.warn({ id }, 'job stalled (its replica died or froze): it runs again'));
  return worker;
}
