import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** The run's shared redis-server (see global-setup.ts). */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A prefix no other test uses: each test owns the keys under it. */
export function newPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/**
 * Every key of a prefix, by SCAN (never KEYS): the warmed keys under
 * `prefix:` and the internal ones under its hash tag `{prefix}:`.
 */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const match of [`${prefix}:*`, `{${prefix}}:*`]) {
    let cursor = '0';
    for (let i = 0; i < 10_000; i += 1) {
      const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') break;
    }
  }
  return keys.sort();
}

/** Deletes the keys under a prefix: a test cleans only what it owns. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
}

export function testRedis(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
}
