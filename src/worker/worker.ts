import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { JobPlan } from '../definition/parse.js';
import type { WarmJobData } from '../schedule/schedulers.js';
import { runJob, type RunContext } from './run-job.js';

export interface WorkerOptions {
  queueName: string;
  prefix: string;
  connection: Redis;
  concurrency: number;
  plans: ReadonlyMap<string, JobPlan>;
  run: RunContext;
  logger: Logger;
}

/**
 * The BullMQ worker: each job is one refresh of the definition its name
 * names. A refresh that failed is thrown so BullMQ counts it failed (the
 * status store already has the details); a job whose definition is gone or
 * disabled is completed without work, since its scheduler is being removed.
 */
export function startWorker(options: WorkerOptions): Worker<WarmJobData> {
  const { logger } = options;
  const worker = new Worker<WarmJobData>(
    options.queueName,
    async (job: Job<WarmJobData>) => {
      const plan = options.plans.get(job.name);
      if (!plan || !plan.enabled) {
        logger.warn({ job: job.name, id: job.id }, 'skipping a job that is not enabled here');
        return { skipped: true };
      }
      const result = await runJob(plan, options.run, job.data?.trigger === 'manual' ? 'manual' : 'schedule');
      if (result.error) throw result.error;
      return { keys: result.keysWritten, bytes: result.bytesWritten, items: result.itemsOk, durationMs: result.durationMs };
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      autorun: true,
    },
  );
  // Background errors always have a listener: an unhandled 'error' would crash the daemon.
  worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => logger.debug({ job: job?.name, id: job?.id, err: error }, 'job failed'));
  return worker;
}
