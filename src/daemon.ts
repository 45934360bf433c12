import { Queue, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { ParsedJob } from './definition/parse.js';
import { createRuntime, queuePrefix, QUEUE_NAME } from './runtime.js';
import { desiredSchedulers, reconcileSchedulers, describeSchedule } from './schedule/schedulers.js';
import { startWorker } from './worker/worker.js';
import { closeRedis, connectRedis } from './shared/redis.js';
import { redactUrl } from './shared/secrets.js';
import type { WarmJobData } from './schedule/schedulers.js';

export interface Daemon {
  /** Stops taking jobs, lets running refreshes finish, closes every connection. */
  stop(): Promise<void>;
  /** Closes at once: running refreshes are abandoned (BullMQ retries them as stalled). */
  forceStop(): Promise<void>;
}

/** Wires config → schedulers → worker → upstream → cache → status, and starts. */
export async function startDaemon(jobs: readonly ParsedJob[], config: Config, logger: Logger): Promise<Daemon> {
  const runtime = createRuntime(jobs, config, logger);
  const prefix = queuePrefix(config);
  const queueConnection = connectRedis(config.redis.url, 'queue');
  const workerConnection = connectRedis(config.redis.url, 'queue');
  for (const [name, client] of [['queue', queueConnection], ['worker', workerConnection]] as const) {
    client.on('error', (error) => logger.warn({ err: error, connection: name }, 'queue redis connection error'));
  }
  const queue = new Queue<WarmJobData>(QUEUE_NAME, { connection: queueConnection, prefix });
  queue.on('error', (error) => logger.error({ err: error }, 'queue error'));

  logger.info(
    {
      redis: redactUrl(config.redis.url),
      upstream: config.upstream.baseUrl,
      prefix: config.cache.prefix,
      jobs: Object.fromEntries([...runtime.plans.values()].map((p) => [p.job.name, describeSchedule(p, config.group.timezone)])),
    },
    'starting cache-warmer daemon',
  );

  const report = await reconcileSchedulers(queue, desiredSchedulers([...runtime.plans.values()], config.group.timezone));
  logger.info(report, 'schedulers reconciled');

  const worker: Worker = startWorker({
    queueName: QUEUE_NAME,
    prefix,
    connection: workerConnection,
    concurrency: config.worker.concurrency,
    plans: runtime.plans,
    run: runtime.run,
    logger,
  });

  const closeAll = async (force: boolean) => {
    await worker.close(force);
    await queue.close();
    await Promise.all([closeRedis(queueConnection), closeRedis(workerConnection), runtime.close()]);
  };
  return {
    stop: () => closeAll(false),
    forceStop: () => closeAll(true),
  };
}
