/**
 * Scheduling lag: how late a job starts after its scheduled tick.
 *
 * Side by side, at the same time, on the same (private) redis-server:
 * - the daemon (`cache-warmer run --config FILE`) with one job, daily-stats
 *   over a handful of projects, `every: "1s"`, the other jobs disabled;
 * - a bare BullMQ job scheduler `every: 1000` with a no-op worker, BullMQ's
 *   default worker options, in a process of its own (bench/bare-scheduler.ts).
 *
 * Both are read back from BullMQ afterwards: each iteration is a job whose id
 * is `repeat:<scheduler>:<tick ms>` (its planned time; `timestamp + delay` is
 * the same instant unless the delay was clamped at 0) and whose `processedOn`
 * is when a worker took it. lag = processedOn − tick.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedisServer } from '../test/support/redis-server.js';
import type { BareOptions } from './bare-scheduler.js';
import { sleep, spawnNode, type Cleanup } from './processes.js';
import { distribution, type Distribution } from './stats.js';
import { CLI, daemonEnv, type UpstreamTarget } from './warm-cycle.js';

export interface LagOptions {
  upstream: UpstreamTarget;
  concurrency: number;
  nodeOptions?: string;
  seconds: number;
  tmpDir: string;
  cleanup: Cleanup;
  signal: AbortSignal;
}

export interface LagResult {
  daemon: Distribution;
  bare: Distribution;
  seconds: number;
}

/** Ticks this soon after both sides started are left out: the first run of an `every` scheduler is "now", before any worker. */
const WARM_UP_MS = 1_500;
const DAEMON_PREFIX = 'bench-lag';
const BARE_PREFIX = 'bench-bare:bull';
const BARE_QUEUE = 'bare-every-1s';
const BARE_CHILD = fileURLToPath(new URL('./bare-scheduler.js', import.meta.url));

/** The planned instant of a scheduler iteration; undefined for any other job (e.g. a fan-out batch). */
function plannedAt(job: Job): number | undefined {
  if (!job.repeatJobKey && !job.id?.startsWith('repeat:')) return undefined;
  const fromId = /^repeat:.+:(\d+)$/.exec(job.id ?? '')?.[1];
  if (fromId !== undefined) return Number(fromId);
  const delay = Number(job.delay ?? job.opts?.delay ?? 0);
  return Number.isFinite(job.timestamp) ? job.timestamp + delay : undefined;
}

async function lagsOf(queue: Queue, from: number, to: number): Promise<number[]> {
  const jobs = await queue.getJobs(['completed', 'failed'], 0, 999);
  const lags: number[] = [];
  for (const job of jobs) {
    const planned = plannedAt(job);
    if (planned === undefined || job.processedOn === undefined) continue;
    if (planned < from || planned > to) continue;
    lags.push(job.processedOn - planned);
  }
  return lags;
}

/**
 * Runs on a redis-server of its own, shared by the daemon and the bare
 * scheduler and nothing else: on an idle Redis a blocked BZPOPMIN times out
 * only at Redis's next event-loop wake-up (up to 1/hz = 100 ms late), while
 * other traffic wakes it sooner, so another phase's commands on the same
 * server would change the lag itself.
 */
export async function measureLag(o: LagOptions): Promise<LagResult> {
  const redis = await startRedisServer();
  o.cleanup.trackPid(redis.pid);
  const stopRedis = o.cleanup.add('redis-server (lag)', async () => {
    await redis.stop();
    o.cleanup.untrackPid(redis.pid);
  });
  try {
    return await measureOn(redis.url, o);
  } finally {
    await stopRedis();
  }
}

async function measureOn(redisUrl: string, o: LagOptions): Promise<LagResult> {
  const configFile = join(o.tmpDir, 'lag-config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      jobs: {
        'daily-stats': { every: '1s', alsoAt: false },
        'projects-list': { enabled: false },
        'project-stats': { enabled: false },
        leaderboards: { enabled: false },
        topics: { enabled: false },
      },
    }),
  );
  const readConnection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  readConnection.on('error', () => undefined); // a failed read rejects its command, which is reported
  const closeConnection = o.cleanup.add('lag redis connection', async () => {
    readConnection.disconnect();
  });
  const bare = spawnNode({
    script: BARE_CHILD,
    args: [JSON.stringify({ redisUrl: redisUrl, prefix: BARE_PREFIX, queue: BARE_QUEUE } satisfies BareOptions)],
    env: {},
    cleanup: o.cleanup,
    name: 'bare BullMQ scheduler',
  });
  const daemon = spawnNode({
    script: CLI,
    args: ['run', '--config', configFile],
    env: daemonEnv({ upstream: o.upstream, redisUrl: redisUrl, prefix: DAEMON_PREFIX, concurrency: o.concurrency, nodeOptions: o.nodeOptions }),
    cleanup: o.cleanup,
    name: 'cache-warmer run (lag)',
  });
  try {
    await Promise.all([daemon.waitForLog((l) => l.msg === 'schedulers reconciled', 30_000), bare.waitForLog((l) => l.msg === 'bare ready', 30_000)]);
    const from = Date.now() + WARM_UP_MS;
    await sleep(WARM_UP_MS + o.seconds * 1000, o.signal);
    const to = Date.now() - 200;
    const [daemonCode, bareCode] = await Promise.all([daemon.stop(15_000), bare.stop(15_000)]);
    if (daemonCode !== 0) throw new Error(`cache-warmer run (lag) exited ${daemonCode} on SIGTERM:\n${daemon.tail().slice(-3000)}`);
    if (bareCode !== 0) throw new Error(`bare BullMQ scheduler exited ${bareCode} on SIGTERM:\n${bare.tail().slice(-3000)}`);

    const daemonQueue = new Queue('cache-warmer', { connection: readConnection, prefix: `{${DAEMON_PREFIX}}:bull` });
    const bareQueue = new Queue(BARE_QUEUE, { connection: readConnection, prefix: BARE_PREFIX });
    for (const queue of [daemonQueue, bareQueue]) queue.on('error', () => undefined);
    const daemonLags = await lagsOf(daemonQueue, from, to);
    const bareLags = await lagsOf(bareQueue, from, to);
    await daemonQueue.close();
    await bareQueue.close();
    if (daemonLags.length === 0) throw new Error(`lag: the daemon ran no scheduled job in ${o.seconds} s:\n${daemon.tail().slice(-3000)}`);
    if (bareLags.length === 0) throw new Error(`lag: the bare scheduler ran no job in ${o.seconds} s:\n${bare.tail().slice(-3000)}`);
    return { daemon: distribution(daemonLags), bare: distribution(bareLags), seconds: (to - from) / 1000 };
  } finally {
    await Promise.all([daemon.stop(5_000), bare.stop(5_000)]);
    await closeConnection();
  }
}
