/**
 * Assertions shared by the fault suite (test/fault/): what "the promise" means
 * for a key (same bytes, or fresh again), for the status store (the failure is
 * recorded with its code and without a secret) and for the output (no secret in
 * a log line or anywhere under the test's prefix).
 */
import { expect, vi } from 'vitest';
import type { Harness } from './harness.js';
import { keysUnder } from './redis.js';
import type { SimProject } from './simulator/server.js';
import { internalKeys } from '../../src/cache/keys.js';

export interface KeySnapshot {
  raw: string;
  pttl: number;
}

export const ongoing = (h: Harness): SimProject[] => h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);

/** Every warmed key (or those `only` picks): its exact bytes and remaining TTL. */
export async function snapshot(h: Harness, only: (key: string) => boolean = () => true): Promise<Map<string, KeySnapshot>> {
  const out = new Map<string, KeySnapshot>();
  for (const key of (await h.cacheKeys()).filter(only)) {
    const [raw, pttl] = await Promise.all([h.redis.get(key), h.redis.pttl(key)]);
    if (raw !== null) out.set(key, { raw, pttl });
  }
  return out;
}

/** Sets the remaining TTL of every warmed key (or those `only` picks) to `ms`, so that an extension shows. */
export async function setTtls(h: Harness, ms: number, only: (key: string) => boolean = () => true): Promise<void> {
  for (const key of (await h.cacheKeys()).filter(only)) await h.redis.pexpire(key, ms);
}

/** The last good values are still there, byte for byte: none rewritten, none deleted. */
export async function expectKept(h: Harness, before: Map<string, KeySnapshot>): Promise<void> {
  expect(before.size, 'the test warmed something to keep').toBeGreaterThan(0);
  for (const [key, was] of before) expect(await h.redis.get(key), `value of ${key}`).toBe(was.raw);
}

/** `cached_at` of a key's value, in epoch ms. */
export async function cachedAt(h: Harness, key: string): Promise<number> {
  const value = await h.json(key);
  expect(value, `value of ${key}`).toBeDefined();
  return Date.parse(value.cached_at);
}

/** The status store's hash of a job, as `status` and apps read it. */
export async function statusHash(h: Harness, job: string): Promise<Record<string, string>> {
  return h.redis.hgetall(internalKeys.status(h.prefix, job));
}

/**
 * The last run of `job` was recorded as a failure whose message starts with
 * the stable code `code`, says `mentions` and holds none of `secrets`.
 */
export async function expectFailureRecorded(h: Harness, job: string, code: string, mentions: string | RegExp, secrets: string[] = [h.token]): Promise<Record<string, string>> {
  const status = await statusHash(h, job);
  expect(status.lastResult, `status of ${job}`).toBe('failed');
  expect(status.lastError?.startsWith(`${code}: `), `lastError of ${job}: ${status.lastError}`).toBe(true);
  if (typeof mentions === 'string') expect(status.lastError).toContain(mentions);
  else expect(status.lastError).toMatch(mentions);
  for (const secret of secrets) expect(status.lastError).not.toContain(secret);
  return status;
}

/** Every key under the test's prefix with its content, whatever its type (strings, hashes, BullMQ's lists, sets and streams). */
export async function dumpPrefix(h: Harness): Promise<string> {
  const parts: string[] = [];
  for (const key of await keysUnder(h.redis, h.prefix)) {
    const type = await h.redis.type(key);
    let content: unknown;
    if (type === 'string') content = await h.redis.get(key);
    else if (type === 'hash') content = await h.redis.hgetall(key);
    else if (type === 'list') content = await h.redis.lrange(key, 0, -1);
    else if (type === 'set') content = await h.redis.smembers(key);
    else if (type === 'zset') content = await h.redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'stream') content = await h.redis.xrange(key, '-', '+');
    else content = `<${type}>`;
    parts.push(`${key} ${JSON.stringify(content)}`);
  }
  return parts.join('\n');
}

/** No secret in any log line the harness collected, nor anywhere under the prefix (values, status store, queue). */
export async function expectNoSecret(h: Harness, secrets: string[] = [h.token]): Promise<void> {
  const dump = await dumpPrefix(h);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(8);
    const leaking = h.logs.filter((line) => line.includes(secret));
    expect(leaking, 'log lines holding a secret').toEqual([]);
    expect(dump.includes(secret), 'a secret stored under the prefix').toBe(false);
  }
}

/**
 * Pins Math.random, and with it the retry jitter of src/upstream/client.ts
 * (delay = random × base × 2^(attempt-1)), so that retry counts and backoff
 * gaps are exact. Returns the restore function.
 */
export function pinJitter(value: number): () => void {
  const spy = vi.spyOn(Math, 'random').mockReturnValue(value);
  return () => spy.mockRestore();
}

/** The requests the simulator saw for one path, oldest first. */
export function attemptsOn(h: Harness, path: string): number[] {
  return h.sim.requests.filter((r) => r.path === path).map((r) => r.at).sort((a, b) => a - b);
}

/** Runs `work` while sampling this process's RSS every few ms; returns the result and the peak growth in bytes. */
export async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, 2);
  try {
    const result = await work();
    sample();
    return { result, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}
