import type { Redis } from 'ioredis';
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
 * EX ttl`, sent as one pipeline per batch: a round trip per batch, not per key.
 * A value is serialised before anything is sent, so a bad value cannot leave
 * a half-written batch behind.
 */
export class CacheStore {
  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {}

  async write(entries: readonly CacheEntry[]): Promise<WriteTotals> {
    if (entries.length === 0) return { keys: 0, bytes: 0 };
    const serialised = entries.map((e) => ({ key: e.key, json: JSON.stringify(e.value), ex: ttlSeconds(e.ttlMs) }));
    const pipeline = this.redis.pipeline();
    let bytes = 0;
    for (const e of serialised) {
      pipeline.set(e.key, e.json, 'EX', e.ex);
      bytes += Buffer.byteLength(e.json);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) {
      throw new WarmerError('ERR_CACHE', `writing ${entries.length} keys failed: ${failed?.[0]?.message ?? 'no reply'}`, { cause: failed?.[0] });
    }
    return { keys: entries.length, bytes };
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
    private readonly batchSize = 200,
  ) {}

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
