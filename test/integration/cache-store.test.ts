/**
 * Writes of many keys against the run's real redis-server: pipelined, in
 * round trips of bounded size (a 10,000-project list must not become one
 * multi-megabyte pipeline string), replies in command order.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { CacheStore } from '../../src/cache/store.js';
import type { WarmerError } from '../../src/shared/errors.js';
import { BATCH_ROUND_TRIP, execBatch, type BatchCommand } from '../../src/shared/redis.js';
import { dropPrefix, keysUnder, newPrefix, testRedis } from '../support/redis.js';

const opened: Array<{ redis: Redis; prefix: string }> = [];

function owned(): { redis: Redis; prefix: string } {
  const pair = { redis: testRedis(), prefix: newPrefix() };
  opened.push(pair);
  return pair;
}

afterEach(async () => {
  for (const { redis, prefix } of opened.splice(0)) {
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
  vi.restoreAllMocks();
});

/** The number of commands of each pipeline the client sends. */
function pipelineSizes(redis: Redis): number[] {
  const sizes: number[] = [];
  const original = redis.pipeline.bind(redis);
  vi.spyOn(redis, 'pipeline').mockImplementation((commands?: unknown[][]) => {
    sizes.push(commands?.length ?? 0);
    return original(commands);
  });
  return sizes;
}

describe('cache writes', () => {
  it('writes 450 keys in three pipelined round trips of at most 200 commands, each key with its TTL', async () => {
    const { redis, prefix } = owned();
    const sizes = pipelineSizes(redis);
    const entries = Array.from({ length: 450 }, (_, i) => ({ key: `${prefix}:k:${i}`, value: { i, cached_at: new Date().toISOString() }, ttlMs: 60_000 }));

    const totals = await new CacheStore(redis, prefix).write(entries);

    expect(BATCH_ROUND_TRIP).toBe(200);
    expect(sizes).toEqual([200, 200, 50]);
    expect(totals.keys).toBe(450);
    expect(await keysUnder(redis, prefix)).toHaveLength(450);
    expect(JSON.parse((await redis.get(`${prefix}:k:449`))!)).toMatchObject({ i: 449 });
    const ttl = await redis.ttl(`${prefix}:k:0`);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('writes nothing of a 450-key write whose last value cannot be serialised, and names its key in an ERR_CACHE', async () => {
    const { redis, prefix } = owned();
    const entries = Array.from({ length: 450 }, (_, i) => ({ key: `${prefix}:k:${i}`, value: { i } as Record<string, unknown>, ttlMs: 60_000 }));
    entries[449]!.value = { id: 82811825141841812n };

    const error = await new CacheStore(redis, prefix).write(entries).catch((e: unknown) => e as WarmerError);
    expect(error).toMatchObject({ code: 'ERR_CACHE' });
    expect((error as Error).message).toContain(`the value of ${prefix}:k:449 cannot be written as JSON`);
    expect(await keysUnder(redis, prefix)).toEqual([]);
  });

  it('returns the replies of a batch split over round trips in command order, errors in place', async () => {
    const { redis, prefix } = owned();
    const sizes = pipelineSizes(redis);
    await redis.set(`${prefix}:list`, 'not a number');
    const commands: BatchCommand[] = [];
    for (let i = 0; i < 5; i += 1) commands.push(['set', `${prefix}:n:${i}`, String(i * 10)]);
    commands.push(['incr', `${prefix}:list`]);
    for (let i = 0; i < 5; i += 1) commands.push(['get', `${prefix}:n:${i}`]);

    const replies = await execBatch(redis, commands, 4);

    expect(sizes).toEqual([4, 4, 3]);
    expect(replies.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => [null, 'OK']));
    expect(replies[5]![0]).toBeInstanceOf(Error);
    expect(replies[5]![0]!.message).toContain('not an integer');
    expect(replies.slice(6).map(([, value]) => value)).toEqual(['0', '10', '20', '30', '40']);
  });
});
