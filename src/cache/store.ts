import { BATCH_ROUND_TRIP, execBatch, type BatchCommand, type RedisClient } from '../shared/redis.js';
import { WarmerError } from '../shared/errors.js';
import { ttlSeconds } from '../shared/duration.js';

/** One value to write: the key is already built and checked (see keys.ts). */
export interface CacheEntry {
  key: string;
  value: Record<string, unknown>;
  ttlMs: number;
}

export interface WriteTotals {
  keys: number;
  bytes: number;
}

/**
 * The only place that reads or writes warmed keys. Writes are `SET key value
 * EX ttl`, pipelined (per master on a cluster) in round trips of
 * BATCH_ROUND_TRIP commands: a round trip per 200 keys, not per key.
 * Every value is serialised before anything is sent, so a bad value cannot
 * leave a half-written batch behind; a round trip that fails leaves the
 * earlier ones written (a pipeline is not a transaction).
 */
export class CacheStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string,
  ) {}

  async write(entries: readonly CacheEntry[]): Promise<WriteTotals> {
    if (entries.length === 0) return { keys: 0, bytes: 0 };
    // Every value is serialised (and so checked) before the first is sent. A
    // write of more than one round trip does not keep the strings: with
    // 10,000 projects the list's values were 5-10 MB of strings at the
    // warm-up's memory peak. Each round trip serialises its own values again,
    // which costs little next to fetching them.
    const keep = entries.length <= BATCH_ROUND_TRIP;
    let bytes = 0;
    const serialised = entries.map((e) => {
      const json = serialise(e);
      bytes += Buffer.byteLength(json);
      return keep ? json : undefined;
    });
    for (let i = 0; i < entries.length; i += BATCH_ROUND_TRIP) {
      const commands = entries.slice(i, i + BATCH_ROUND_TRIP).map((e, j): BatchCommand => ['set', e.key, serialised[i + j] ?? serialise(e), 'EX', ttlSeconds(e.ttlMs)]);
      const results = await execBatch(this.redis, commands);
      const failed = results.find(([error]) => error);
      if (results.length !== commands.length || failed) {
        const written = i + results.filter(([error]) => !error).length;
        throw new WarmerError('ERR_CACHE', `writing ${entries.length} keys failed, ${written} written: ${failed?.[0]?.message ?? 'no reply'}`, { cause: failed?.[0] });
      }
    }
    return { keys: entries.length, bytes };
  }

  /**
   * Serving stale: keeps the values of `keys` readable while their refresh
   * fails. Each value's age comes from its own `cached_at`; its TTL is pushed
   * out to `min(ttlMs, maxStaleMs - age)`, and only ever lengthened
   * (`PEXPIRE … GT`), so a fresh value another replica wrote meanwhile keeps
   * its own TTL. Left to expire: a value older than `maxStaleMs`, one with no
   * readable `cached_at`, and an empty answer (a top-level list that is
   * empty), which must not outlive an outage. Returns how many keys were extended.
   */
  async extendStale(keys: readonly string[], ttlMs: number, maxStaleMs: number): Promise<number> {
    if (keys.length === 0 || maxStaleMs <= 0) return 0;
    const values = await execBatch(this.redis, keys.map((key): BatchCommand => ['get', key]));
    // Measured after the read: the extension must not reach past cached_at + maxStale.
    const now = Date.now();
    const extend: BatchCommand[] = [];
    keys.forEach((key, i) => {
      const [error, text] = values[i] ?? [];
      if (error || typeof text !== 'string') return;
      const stored = readStored(text);
      if (!stored || stored.empty) return;
      const keepMs = Math.min(ttlMs, maxStaleMs - (now - stored.cachedAt));
      if (keepMs <= 0) return;
      extend.push(['pexpire', key, keepMs, 'GT']);
    });
    if (extend.length === 0) return 0;
    const results = await execBatch(this.redis, extend);
    const failed = results.find(([error]) => error);
    // PEXPIRE … GT needs Redis 7: on an older server serving stale would silently do nothing.
    if (failed) throw new WarmerError('ERR_CACHE', `extending stale TTLs failed (Redis 7.0+ is required): ${failed[0]!.message}`, { cause: failed[0] });
    return results.filter(([error, changed]) => !error && changed === 1).length;
  }

  /** Ids in the gone-projects hash (id → when the mark expires) whose mark has not expired. */
  async goneProjects(key: string, now = Date.now()): Promise<Set<string>> {
    const marks = await this.redis.hgetall(key);
    return new Set(Object.entries(marks).filter(([, until]) => Number(until) > now).map(([id]) => id));
  }

  /** Marks a project gone for `ttlMs`: each mark expires on its own, whatever is marked after it. */
  async addGoneProject(key: string, projectId: string, ttlMs: number, now = Date.now()): Promise<void> {
    const marks = await this.redis.hgetall(key);
    const expired = Object.entries(marks).filter(([, until]) => Number(until) <= now).map(([id]) => id);
    const multi = this.redis.multi().hset(key, projectId, String(now + ttlMs)).pexpire(key, ttlMs, 'NX').pexpire(key, ttlMs, 'GT');
    if (expired.length) multi.hdel(key, ...expired);
    await multi.exec();
  }

  /** The parsed JSON value of a key, undefined when missing; a value that is not JSON is reported, not returned. */
  async readJson(key: string): Promise<unknown> {
    const text = await this.redis.get(key);
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new WarmerError('ERR_CACHE', `key ${key} does not hold JSON`, { cause: error });
    }
  }
}

/** A value as JSON; one that has none (a bigint, a cycle) is a typed error naming its key. */
function serialise(entry: CacheEntry): string {
  try {
    return JSON.stringify(entry.value);
  } catch (error) {
    throw new WarmerError('ERR_CACHE', `the value of ${entry.key} cannot be written as JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** What serving stale needs of a stored value: when it was fetched and whether it is an empty answer. */
function readStored(text: string): { cachedAt: number; empty: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const cachedAt = Date.parse(String((value as { cached_at?: unknown }).cached_at));
  if (Number.isNaN(cachedAt)) return undefined;
  const empty = Object.values(value).some((field) => Array.isArray(field) && field.length === 0);
  return { cachedAt, empty };
}

/**
 * Collects entries and writes them in pipelined batches while a run goes on,
 * so memory stays bounded by the batch size, not by the number of projects.
 */
export class BatchWriter {
  private pending: CacheEntry[] = [];
  private inflight: Promise<void> = Promise.resolve();
  private failure: unknown;
  readonly totals: WriteTotals = { keys: 0, bytes: 0 };

  constructor(
    private readonly store: CacheStore,
    private readonly batchSize = BATCH_ROUND_TRIP,
  ) {}

  /** Counts keys written elsewhere for this run (a shared fetch-and-write of a list). */
  count(written: WriteTotals): void {
    this.totals.keys += written.keys;
    this.totals.bytes += written.bytes;
  }

  add(entries: readonly CacheEntry[]): void {
    this.pending.push(...entries);
    if (this.pending.length >= this.batchSize) this.startFlush();
  }

  /** Writes what is pending and waits for every batch; throws the first write error. */
  async flush(): Promise<WriteTotals> {
    this.startFlush();
    await this.inflight;
    if (this.failure) throw this.failure;
    return this.totals;
  }

  private startFlush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    // Batches are chained, not parallel: one pipeline at a time keeps the
    // connection's queue short and the order of writes predictable.
    this.inflight = this.inflight.then(async () => {
      try {
        const written = await this.store.write(batch);
        this.totals.keys += written.keys;
        this.totals.bytes += written.bytes;
      } catch (error) {
        this.failure ??= error;
      }
    });
  }
}
