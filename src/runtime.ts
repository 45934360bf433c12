import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { planJob, type JobPlan, type ParsedJob } from './definition/parse.js';
import { createUpstream } from './upstream/client.js';
import { CacheStore } from './cache/store.js';
import { StatusStore } from './status/store.js';
import { closeRedis, connectRedis } from './shared/redis.js';
import type { RunContext } from './worker/run-job.js';

/** What both the daemon and `--once` run on: the plans and one wired run context. */
export interface Runtime {
  plans: ReadonlyMap<string, JobPlan>;
  run: RunContext;
  redis: Redis;
  close(): Promise<void>;
}

export function planJobs(jobs: readonly ParsedJob[], config: Config): Map<string, JobPlan> {
  return new Map(jobs.map((job) => [job.name, planJob(job, config.jobs[job.name])]));
}

export function createRuntime(jobs: readonly ParsedJob[], config: Config, logger: Logger): Runtime {
  const plans = planJobs(jobs, config);
  const redis = connectRedis(config.redis.url, 'cache');
  redis.on('error', (error) => logger.warn({ err: error }, 'cache redis connection error'));
  const upstream = createUpstream({
    baseUrl: config.upstream.baseUrl,
    token: config.upstream.token,
    timeoutMs: config.upstream.timeoutMs,
    retries: config.upstream.retries,
  });
  const run: RunContext = {
    upstream,
    cache: new CacheStore(redis, config.cache.prefix),
    status: new StatusStore(redis, config.cache.prefix),
    logger,
    groupId: config.upstream.groupId,
    timeZone: config.group.timezone,
    scopes: config.projects.scopes,
    concurrency: config.upstream.concurrency,
    projectsProvider: [...plans.values()].find((p) => p.job.providesProjects),
  };
  return { plans, run, redis, close: () => closeRedis(redis) };
}

/** BullMQ's key prefix: under the cache prefix, so that one prefix owns all of a deployment's keys. */
export function queuePrefix(config: Config): string {
  return `${config.cache.prefix}:bull`;
}

export const QUEUE_NAME = 'cache-warmer';
