import { Queue } from 'bullmq';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { planJobs, queuePrefix, QUEUE_NAME } from '../../runtime.js';
import { StatusStore } from '../../status/store.js';
import { buildStatusDocument, type StatusDocument } from '../../status/document.js';
import { closeRedis, connectRedis } from '../../shared/redis.js';
import { CacheStore } from '../../cache/store.js';
import { table } from '../format.js';

export type { StatusDocument } from '../../status/document.js';

/** The status store joined with the schedule: the document of `status --json`, read over connections of its own. */
export async function readStatus(jobs: readonly ParsedJob[], config: Config): Promise<StatusDocument> {
  // The status store lives beside the queue (REDIS_QUEUE_URL): one connection reads both.
  const redis = connectRedis(config.redis.queue, 'queue', { retryStrategy: () => null, maxRetriesPerRequest: 1 });
  // BullMQ does not close a connection it was given.
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: queuePrefix(config) });
  // The awaited calls below reject with the error; without listeners BullMQ
  // and ioredis would print it whole, command arguments (a password) included.
  queue.on('error', () => undefined);
  redis.on('error', () => undefined);
  const cacheRedis =
    config.redis.shared
      ? redis
      : connectRedis(config.redis.cache, 'cache', { retryStrategy: () => null, maxRetriesPerRequest: 1 });
  cacheRedis.on('error', () => undefined);
  try {
    return await buildStatusDocument({
      plans: planJobs(jobs, config),
      store: new StatusStore(redis, config.cache.prefix),
      queue,
      cache: new CacheStore(cacheRedis, config.cache.prefix),
      scopes: config.projects.scopes,
      rateLimit: config.upstream.rateLimit,
      timeZone: config.group.timezone,
    });
  } finally {
    await queue.close().catch(() => undefined);
    if (cacheRedis !== redis) await closeRedis(cacheRedis);
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
/** A span in the largest unit that keeps it readable: `45s`, `27m`, `5h`. */
const span = (seconds: number) => {
  const abs = Math.abs(Math.round(seconds));
  return abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : `${Math.round(abs / 3600)}h`;
};
const ago = (iso: string | null, now: number) => {
  if (!iso) return '-';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  return s >= 0 ? `${span(s)} ago` : `in ${span(s)}`;
};

/**
 * The table of `cache-warmer status`. DATA AGE is read at `now` from the
 * start of the last run that refreshed every key of the job (see
 * JobStatus.dataAgeSeconds), not at the moment the document was read.
 */
export function formatTable(doc: StatusDocument, now = Date.now()): string {
  const header = ['JOB', 'STATE', 'SCHEDULE', 'RUNS', 'OK', 'FAIL', 'RATE 1H', 'RATE 24H', 'RATE ALL', 'LAST SUCCESS', 'LAST FAILURE', 'DATA AGE', 'DURATION', 'KEYS', 'NEXT RUN', 'LAST ERROR'];
  const rows = doc.jobs.map((j) => [
    j.name,
    j.state,
    j.schedule,
    String(j.runs),
    String(j.successes),
    String(j.failures),
    pct(j.successRate1h),
    pct(j.successRate24h),
    pct(j.successRate),
    ago(j.lastSuccessAt, now),
    ago(j.lastFailureAt, now),
    j.lastFullSuccessAt === null ? '-' : span(Math.max(0, now - Date.parse(j.lastFullSuccessAt)) / 1000),
    j.lastDurationMs === null ? '-' : `${j.lastDurationMs}ms`,
    j.lastKeysWritten === null ? '-' : String(j.lastKeysWritten),
    ago(j.nextRunAt, now),
    j.lastError ? j.lastError.slice(0, 80) : '-',
  ]);
  const f = doc.feasibility;
  const load = `upstream load: ${f.neededPerSecond.toFixed(2)} req/s needed for ${f.projects} projects; limit ${f.limitPerSecond > 0 ? `${f.limitPerSecond} req/s` : 'none'}`;
  return [table(header, rows), '', load, ...f.warnings.map((w) => `warning: ${w}`)].join('\n');
}
