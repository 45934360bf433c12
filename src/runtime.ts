import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { planJob, type JobPlan, type ParsedJob } from './definition/parse.js';
import { createUpstream } from './upstream/client.js';
import { CacheStore } from './cache/store.js';
import { hashTag, internalKeys } from './cache/keys.js';
import { StatusStore, type StatusObserver } from './status/store.js';
import type { UpstreamObserver } from './upstream/client.js';
import { closeRedis, connectRedis, type RedisClient } from './shared/redis.js';
import { createUpstreamLimiter } from './limit/upstream-limiter.js';
import type { RunContext } from './worker/run-job.js';
import { ErrorReporter } from './shared/error-reporter.js';

/** What both the daemon and `--once` run on: the plans and one wired run context. */
export interface Runtime {
  plans: ReadonlyMap<string, JobPlan>;
  run: RunContext;
  /** The warmed keys' Redis (REDIS_CACHE_URL). */
  cacheRedis: RedisClient;
  /** The status store's Redis: the queue's (REDIS_QUEUE_URL), which must not evict. */
  statusRedis: RedisClient;
  /** Soft stop: refreshes start no new unit once it is aborted. */
  stopping: AbortController;
  /** Hard stop: requests in flight are abandoned once it is aborted. */
  abort: AbortController;
  close(): Promise<void>;
}

/** Listeners of what the runtime does (the daemon's metrics). */
export interface RuntimeObservers {
  status?: StatusObserver;
  upstream?: UpstreamObserver;
}

export function planJobs(jobs: readonly ParsedJob[], config: Config): Map<string, JobPlan> {
  return new Map(jobs.map((job) => [job.name, planJob(job, config.jobs[job.name], config.cache.maxStaleMs)]));
}

export function createRuntime(
  jobs: readonly ParsedJob[],
  config: Config,
  logger: Logger,
  reporter = new ErrorReporter(logger),
  observers: RuntimeObservers = {},
): Runtime {
  const plans = planJobs(jobs, config);
  const cacheRedis = connectRedis(config.redis.cache, 'cache');
  const statusRedis =
    config.redis.shared ? cacheRedis : connectRedis(config.redis.queue, 'cache');
  for (const [name, client] of new Map([['cache', cacheRedis], ['status', statusRedis]]).entries()) {
    if (name === 'status' && client === cacheRedis) continue;
    client.on('error', (error) => reporter.report(name, error));
    client.on('ready', () => reporter.recovered(name));
  }
  const stopping = new AbortController();
  const abort = new AbortController();
  const upstream = createUpstream({
    baseUrl: config.upstream.baseUrl,
    token: config.upstream.token,
    timeoutMs: config.upstream.timeoutMs,
    deadlineMs: config.upstream.deadlineMs,
    retries: config.upstream.retries,
    maxBodyBytes: config.upstream.maxBodyBytes,
    maxRetryAfterMs: config.upstream.maxRetryAfterMs,
    // One cap for the process: the runs and batches a worker takes at once share it.
    maxInFlight: config.upstream.concurrency,
    signal: abort.signal,
    // Beside the queue: one limit shared by every replica of this prefix.
    acquire: createUpstreamLimiter(statusRedis, internalKeys.upstreamRateLimit(config.cache.prefix), config.upstream.rateLimit).acquire,
    ...(observers.upstream ? { observer: observers.upstream } : {}),
  });
  const run: RunContext = {
    upstream,
    cache: new CacheStore(cacheRedis, config.cache.prefix),
    status: new StatusStore(statusRedis, config.cache.prefix, observers.status),
    logger,
    groupId: config.upstream.groupId,
    timeZone: config.group.timezone,
    scopes: config.projects.scopes,
    concurrency: config.upstream.concurrency,
    projectsProvider: [...plans.values()].find((p) => p.job.providesProjects),
    stopping: stopping.signal,
  };
  return {
    plans,
    run,
    cacheRedis,
    statusRedis,
    stopping,
    abort,
    close: async () => {
      await Promise.all([...new Set([cacheRedis, statusRedis])].map((client) => closeRedis(client)));
    },
  };
}

/**
 * BullMQ's key prefix: under the cache prefix, so that one prefix owns all of
 * a deployment's keys, with its hash tag, so that a cluster keeps every queue
 * key in one slot (BullMQ's scripts need that).
 */
export function queuePrefix(config: Config): string {
  return `${hashTag(config.cache.prefix)}:bull`;
}

export const QUEUE_NAME = 'cache-warmer';
