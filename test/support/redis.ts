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
 * Every key one server holds that matches a glob, by SCAN (never KEYS), with
 * ioredis's scanStream; bounded, so a server that never ends its cursor fails the test.
 */
export async function scanAll(node: Redis, match = '*'): Promise<string[]> {
  const keys: string[] = [];
  let batches = 0;
  for await (const batch of node.scanStream({ match, count: 1000 }) as AsyncIterable<string[]>) {
    keys.push(...batch);
    if ((batches += 1) > 10_000) throw new Error(`SCAN ${match} did not end within 10,000 batches`);
  }
  return keys;
}

/**
 * Every key of a prefix: the warmed keys under `prefix:` and the internal
 * ones under its hash tag `{prefix}:`.
 */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys = [...(await scanAll(redis, `${prefix}:*`)), ...(await scanAll(redis, `{${prefix}}:*`))];
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
