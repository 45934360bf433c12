/**
 * Child entry of the bare BullMQ reference for the lag phase:
 *
 *   node dist/bench/bare-scheduler.js '{"redisUrl":…,"prefix":…,"queue":…}'
 *
 * A job scheduler `every: 1000` and a worker with a no-op processor and
 * BullMQ's default options, in a process of its own like the daemon (so that
 * neither shares an event loop with the in-process simulator). Prints
 * `{"msg":"bare ready"}` once the scheduler is registered; on SIGTERM removes
 * the scheduler, closes the worker and its connections, and exits 0.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface BareOptions {
  redisUrl: string;
  prefix: string;
  queue: string;
}

export const BARE_SCHEDULER_ID = 'bare-every-1s';

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: bare-scheduler.js <options JSON>');
  const o = JSON.parse(raw) as BareOptions;
  // A worker's connection needs maxRetriesPerRequest null.
  const queueConnection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(o.queue, { connection: queueConnection, prefix: o.prefix });
  const worker = new Worker(o.queue, async () => undefined, { connection: workerConnection, prefix: o.prefix });
  queue.on('error', (error) => process.stderr.write(`bare queue: ${error.message}\n`));
  worker.on('error', (error) => process.stderr.write(`bare worker: ${error.message}\n`));
  await worker.waitUntilReady();
  await queue.upsertJobScheduler(BARE_SCHEDULER_ID, { every: 1000 }, { name: 'noop', opts: { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } } });
  process.stdout.write(`${JSON.stringify({ msg: 'bare ready', at: Date.now() })}\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await queue.removeJobScheduler(BARE_SCHEDULER_ID);
  await worker.close();
  await queue.close();
  queueConnection.disconnect();
  workerConnection.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`bare scheduler: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
