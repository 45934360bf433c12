import { Queue } from 'bullmq';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { planJobs, queuePrefix, QUEUE_NAME } from '../../runtime.js';
import { StatusStore, type JobStatus } from '../../status/store.js';
import { describeSchedule, nextRunAt } from '../../schedule/schedulers.js';
import { closeRedis, connectRedis } from '../../shared/redis.js';
import { feasibility, type Feasibility } from '../../schedule/feasibility.js';
import { countCachedProjects } from '../../worker/projects.js';
import { CacheStore } from '../../cache/store.js';

export interface StatusDocument {
  jobs: Array<JobStatus & { schedule: string; nextRunAt: string | null }>;
  /** Whether the cadences fit the upstream rate limit for the projects the warmed lists name. */
  feasibility: Pick<Feasibility, 'neededPerSecond' | 'limitPerSecond' | 'fits' | 'warnings'> & { projects: number };
}

/** The status store joined with the schedule: the document of `status --json`. */
export async function readStatus(jobs: readonly ParsedJob[], config: Config): Promise<StatusDocument> {
  // The status store lives beside the queue (REDIS_QUEUE_URL): one connection reads both.
  const redis = connectRedis({ url: config.redis.queueUrl, ca: config.redis.ca }, 'queue', { retryStrategy: () => null, maxRetriesPerRequest: 1 });
  // BullMQ does not close a connection it was given.
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: queuePrefix(config) });
  // The awaited calls below reject with the error; without listeners BullMQ
  // and ioredis would print it whole, command arguments (a password) included.
  queue.on('error', () => undefined);
  redis.on('error', () => undefined);
  try {
    const plans = planJobs(jobs, config);
    const store = new StatusStore(redis, config.cache.prefix);
    const names = [...new Set([...plans.keys(), ...(await store.knownJobs())])];
    const [statuses, schedulers] = await Promise.all([store.read(names), queue.getJobSchedulers(0, -1, true)]);
    const cacheRedis = config.redis.cacheUrl === config.redis.queueUrl ? redis : connectRedis({ url: config.redis.cacheUrl, ca: config.redis.ca }, 'cache', { retryStrategy: () => null, maxRetriesPerRequest: 1 });
    cacheRedis.on('error', () => undefined);
    let projects = 0;
    try {
      projects = await countCachedProjects([...plans.values()].find((p) => p.job.providesProjects), new CacheStore(cacheRedis, config.cache.prefix), config.projects.scopes);
    } finally {
      if (cacheRedis !== redis) await closeRedis(cacheRedis);
    }
    const fit = feasibility([...plans.values()], projects, config.upstream.rateLimit, config.group.timezone);
    return {
      feasibility: { projects, neededPerSecond: fit.neededPerSecond, limitPerSecond: fit.limitPerSecond, fits: fit.fits, warnings: fit.warnings },
      jobs: statuses.map((s) => {
        const plan = plans.get(s.name);
        const next = plan ? nextRunAt(plan, config.group.timezone, schedulers) : undefined;
        return {
          ...s,
          schedule: plan ? describeSchedule(plan, config.group.timezone) : 'removed',
          nextRunAt: next ? next.toISOString() : null,
        };
      }),
    };
  } finally {
    await queue.close().catch(() => undefined);
    await closeRedis(redis);
  }
}

export async function statusCommand(jobs: readonly ParsedJob[], config: Config, json: boolean, out: (line: string) => void): Promise<number> {
  const doc = await readStatus(jobs, config);
  if (json) out(JSON.stringify(doc, null, 2));
  else out(formatTable(doc));
  return 0;
}

const pct = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);
const ago = (iso: string | null, now: number) => {
  if (!iso) return '-';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  const abs = Math.abs(s);
  const text = abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : `${Math.round(abs / 3600)}h`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
};

export function formatTable(doc: StatusDocument, now = Date.now()): string {
  const header = ['JOB', 'STATE', 'SCHEDULE', 'RUNS', 'OK', 'FAIL', 'RATE 24H', 'RATE ALL', 'LAST SUCCESS', 'LAST FAILURE', 'DURATION', 'KEYS', 'NEXT RUN', 'LAST ERROR'];
  const rows = doc.jobs.map((j) => [
    j.name,
    j.state,
    j.schedule,
    String(j.runs),
    String(j.successes),
    String(j.failures),
    pct(j.successRate24h),
    pct(j.successRate),
    ago(j.lastSuccessAt, now),
    ago(j.lastFailureAt, now),
    j.lastDurationMs === null ? '-' : `${j.lastDurationMs}ms`,
    j.lastKeysWritten === null ? '-' : String(j.lastKeysWritten),
    ago(j.nextRunAt, now),
    j.lastError ? j.lastError.slice(0, 80) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const table = [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  const f = doc.feasibility;
  const load = `upstream load: ${f.neededPerSecond.toFixed(2)} req/s needed for ${f.projects} projects; limit ${f.limitPerSecond > 0 ? `${f.limitPerSecond} req/s` : 'none'}`;
  return [table, '', load, ...f.warnings.map((w) => `warning: ${w}`)].join('\n');
}
