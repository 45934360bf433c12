import type { RedisClient } from '../shared/redis.js';
import { internalKeys } from '../cache/keys.js';
import { scrub } from '../shared/secrets.js';
import { bucketStart, windows, WINDOW_MS, type HistoryPoint } from './windows.js';

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
  /**
   * When the run started: the `cached_at` of every value it wrote.
   * @defaultValue `at - durationMs` (at most a millisecond or two later than the true start)
   */
  startedAt?: number;
}

/**
 * Told of every run and throttle once it is recorded (the metrics listen
 * here). Called synchronously after the record; an observer that throws is
 * ignored: metrics never fail a refresh.
 */
export interface StatusObserver {
  recorded?(run: RunRecord): void;
  throttled?(job: string, at: number, delayMs: number): void;
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
  /** The same over the last hour (the last 12 five-minute buckets, the current one included). */
  successRate1h: number | null;
  runs1h: number;
  /** Runs per hour over the last 24 hours, oldest first (24 points; the last is the current hour). */
  history: HistoryPoint[];
  /**
   * Start of the last run that succeeded with no failed item (every key of
   * the job rewritten), ISO-8601; null before the first such run.
   */
  lastFullSuccessAt: string | null;
  /**
   * now − lastFullSuccessAt, in seconds: a bound on the age of the job's data.
   * That run rewrote every key of the job with `cached_at` no older than its
   * start, and a key whose later refresh failed keeps a value at least that
   * recent (it is served stale, never replaced by older data), so no key the
   * job warms is older. Null before the first full success.
   */
  dataAgeSeconds: number | null;
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

/**
 * Records a run atomically: counters, last-* fields and the 5-minute bucket
 * of the 24-hour window, and drops buckets older than the window, all in one
 * script so that concurrent replicas never interleave half a record.
 * `lastFullSuccessAt` only moves forward: a replica recording an older run
 * late must not make the data look older than it is.
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
  if ARGV[6] == '0' then
    local started = tonumber(ARGV[13])
    local previous = tonumber(redis.call('HGET', status, 'lastFullSuccessAt') or '0')
    if started > previous then redis.call('HSET', status, 'lastFullSuccessAt', ARGV[13]) end
  end
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
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly observer?: StatusObserver,
  ) {}

  async record(run: RunRecord): Promise<void> {
    const bucket = bucketStart(run.at);
    const startedAt = Math.round(run.startedAt ?? run.at - run.durationMs);
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
      String(startedAt),
    );
    this.notify(() => this.observer?.recorded?.(run));
  }

  private notify(call: () => void): void {
    try {
      call();
    } catch {
      // An observer (metrics) never fails the record.
    }
  }

  /** Throttling is not a failure: the run is retried after the backoff; it is counted apart. */
  async recordThrottle(job: string, at: number, delayMs: number): Promise<void> {
    const key = internalKeys.status(this.prefix, job);
    await this.redis.multi().hincrby(key, 'throttles', 1).hset(key, 'lastThrottledAt', String(at), 'lastThrottleDelayMs', String(delayMs)).exec();
    this.notify(() => this.observer?.throttled?.(job, at, delayMs));
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
  const w = windows(buckets, now);
  const fullSuccess = h.lastFullSuccessAt === undefined ? undefined : Number(h.lastFullSuccessAt);
  const runs = int('runs');
  return {
    name,
    runs,
    successes: int('successes'),
    failures: int('failures'),
    itemsOk: int('itemsOk'),
    itemsFailed: int('itemsFailed'),
    successRate: runs === 0 ? null : int('successes') / runs,
    successRate24h: w.successRate24h,
    runs24h: w.runs24h,
    successRate1h: w.successRate1h,
    runs1h: w.runs1h,
    history: w.history,
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
    lastFullSuccessAt: fullSuccess === undefined ? null : new Date(fullSuccess).toISOString(),
    dataAgeSeconds: fullSuccess === undefined ? null : Math.max(0, now - fullSuccess) / 1000,
  };
}
