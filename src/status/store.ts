import type { Redis } from 'ioredis';
import { internalKeys } from '../cache/keys.js';
import { scrub } from '../shared/secrets.js';

/** What one run of a job did; recorded by the daemon's worker and by `--once` alike. */
export interface RunRecord {
  job: string;
  ok: boolean;
  at: number;
  durationMs: number;
  keysWritten: number;
  bytesWritten: number;
  itemsOk: number;
  itemsFailed: number;
  /** Secret-free by construction (our own messages) and scrubbed again here. */
  error?: string;
  trigger: 'schedule' | 'once' | 'manual';
}

export interface JobStatus {
  name: string;
  runs: number;
  successes: number;
  failures: number;
  itemsOk: number;
  itemsFailed: number;
  /** Successful runs ÷ runs since the first run; null before any run. */
  successRate: number | null;
  /** The same over the last 24 hours (5-minute buckets). */
  successRate24h: number | null;
  runs24h: number;
  firstRunAt: string | null;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
  lastDurationMs: number | null;
  lastKeysWritten: number | null;
  lastBytesWritten: number | null;
  lastTrigger: string | null;
  /** `ok`, `failing` (last run failed), `auth failed` (the token was refused), or `never run`. */
  state: 'ok' | 'failing' | 'auth failed' | 'never run';
  throttles: number;
  lastThrottledAt: string | null;
  authFailedAt: string | null;
}

const BUCKET_MS = 5 * 60_000;
const WINDOW_MS = 24 * 3_600_000;

/**
 * Records a run atomically: counters, last-* fields and the 5-minute bucket
 * of the 24-hour window, and drops buckets older than the window, all in one
 * script so that concurrent replicas never interleave half a record.
 */
const RECORD_SCRIPT = `
local status, buckets, jobs = KEYS[1], KEYS[2], KEYS[3]
local now, ok = ARGV[1], ARGV[2] == '1'
redis.call('SADD', jobs, ARGV[9])
redis.call('HSETNX', status, 'firstRunAt', now)
redis.call('HINCRBY', status, 'runs', 1)
redis.call('HINCRBY', status, 'itemsOk', ARGV[5])
redis.call('HINCRBY', status, 'itemsFailed', ARGV[6])
redis.call('HSET', status, 'lastRunAt', now, 'lastDurationMs', ARGV[3], 'lastKeysWritten', ARGV[4],
  'lastBytesWritten', ARGV[11], 'lastTrigger', ARGV[10], 'lastResult', ok and 'ok' or 'failed')
if ok then
  redis.call('HINCRBY', status, 'successes', 1)
  redis.call('HSET', status, 'lastSuccessAt', now)
  redis.call('HDEL', status, 'authFailedAt')
  redis.call('HINCRBY', buckets, ARGV[7] .. ':ok', 1)
else
  redis.call('HINCRBY', status, 'failures', 1)
  redis.call('HSET', status, 'lastFailureAt', now, 'lastError', ARGV[12])
  redis.call('HINCRBY', buckets, ARGV[7] .. ':fail', 1)
end
local cutoff = tonumber(ARGV[8])
for _, field in ipairs(redis.call('HKEYS', buckets)) do
  local start = tonumber(string.match(field, '^(%d+):'))
  if start == nil or start < cutoff then redis.call('HDEL', buckets, field) end
end
return 1
`;

export class StatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async record(run: RunRecord): Promise<void> {
    const bucket = Math.floor(run.at / BUCKET_MS) * BUCKET_MS;
    await this.redis.eval(
      RECORD_SCRIPT,
      3,
      internalKeys.status(this.prefix, run.job),
      internalKeys.statusBuckets(this.prefix, run.job),
      internalKeys.statusJobs(this.prefix),
      String(run.at),
      run.ok ? '1' : '0',
      String(Math.round(run.durationMs)),
      String(run.keysWritten),
      String(run.itemsOk),
      String(run.itemsFailed),
      String(bucket),
      String(bucket - WINDOW_MS),
      run.job,
      run.trigger,
      String(run.bytesWritten),
      scrub(run.error ?? 'unknown error').slice(0, 500),
    );
  }

  /** Throttling is not a failure: the run is retried after the backoff; it is counted apart. */
  async recordThrottle(job: string, at: number, delayMs: number): Promise<void> {
    const key = internalKeys.status(this.prefix, job);
    await this.redis.multi().hincrby(key, 'throttles', 1).hset(key, 'lastThrottledAt', String(at), 'lastThrottleDelayMs', String(delayMs)).exec();
  }

  /** Marks every job "auth failed" until its next success (the upstream refused the token). */
  async markAuthFailed(jobs: readonly string[], at: number, message: string): Promise<void> {
    const multi = this.redis.multi();
    for (const job of jobs) {
      multi.hset(internalKeys.status(this.prefix, job), 'authFailedAt', String(at), 'lastError', scrub(message).slice(0, 500));
    }
    await multi.exec();
  }

  /** Status of the named jobs, in that order; a job that never ran has zero counts. */
  async read(jobs: readonly string[], now = Date.now()): Promise<JobStatus[]> {
    const pipeline = this.redis.pipeline();
    for (const job of jobs) {
      pipeline.hgetall(internalKeys.status(this.prefix, job));
      pipeline.hgetall(internalKeys.statusBuckets(this.prefix, job));
    }
    const replies = (await pipeline.exec()) ?? [];
    return jobs.map((name, i) => {
      const [e1, status] = replies[2 * i] ?? [];
      const [e2, buckets] = replies[2 * i + 1] ?? [];
      if (e1 || e2) throw e1 ?? e2;
      return toJobStatus(name, status as Record<string, string>, buckets as Record<string, string>, now);
    });
  }

  /** Every job that ever recorded a run (including jobs since removed from jobs/). */
  async knownJobs(): Promise<string[]> {
    return (await this.redis.smembers(internalKeys.statusJobs(this.prefix))).sort();
  }
}

function toJobStatus(name: string, h: Record<string, string>, buckets: Record<string, string>, now: number): JobStatus {
  const int = (field: string) => (h[field] === undefined ? 0 : Number(h[field]));
  const time = (field: string) => (h[field] === undefined ? null : new Date(Number(h[field])).toISOString());
  const num = (field: string) => (h[field] === undefined ? null : Number(h[field]));
  let ok24 = 0;
  let fail24 = 0;
  const cutoff = now - WINDOW_MS;
  for (const [field, count] of Object.entries(buckets)) {
    const [start, kind] = field.split(':');
    if (Number(start) + BUCKET_MS <= cutoff) continue;
    if (kind === 'ok') ok24 += Number(count);
    else fail24 += Number(count);
  }
  const runs = int('runs');
  return {
    name,
    runs,
    successes: int('successes'),
    failures: int('failures'),
    itemsOk: int('itemsOk'),
    itemsFailed: int('itemsFailed'),
    successRate: runs === 0 ? null : int('successes') / runs,
    successRate24h: ok24 + fail24 === 0 ? null : ok24 / (ok24 + fail24),
    runs24h: ok24 + fail24,
    firstRunAt: time('firstRunAt'),
    lastRunAt: time('lastRunAt'),
    lastSuccessAt: time('lastSuccessAt'),
    lastFailureAt: time('lastFailureAt'),
    lastError: h.lastError ?? null,
    lastDurationMs: num('lastDurationMs'),
    lastKeysWritten: num('lastKeysWritten'),
    lastBytesWritten: num('lastBytesWritten'),
    lastTrigger: h.lastTrigger ?? null,
    state: h.authFailedAt ? 'auth failed' : runs === 0 ? 'never run' : h.lastResult === 'failed' ? 'failing' : 'ok',
    throttles: int('throttles'),
    lastThrottledAt: time('lastThrottledAt'),
    authFailedAt: time('authFailedAt'),
  };
}
