import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createUpstreamLimiter, horizonForCadence } from '../../src/limit/upstream-limiter.js';
import { dropPrefix, newPrefix, testRedis } from '../support/redis.js';

describe('the fleet-wide upstream rate limit', () => {
  const clients: Redis[] = [];
  const prefixes: string[] = [];
  const setup = () => {
    const prefix = newPrefix();
    prefixes.push(prefix);
    const clientsHere = [testRedis(), testRedis()];
    clients.push(...clientsHere);
    return { key: `{${prefix}}:ratelimit:upstream`, clients: clientsHere };
  };

  afterEach(async () => {
    const admin = testRedis();
    for (const prefix of prefixes.splice(0)) await dropPrefix(admin, prefix);
    admin.disconnect();
    for (const client of clients.splice(0)) client.disconnect();
  });

  it('spaces requests evenly at the rate, shared by two replicas', async () => {
    const { key, clients: [a, b] } = setup();
    const rate = 40; // one slot every 25 ms
    const limiters = [createUpstreamLimiter(a!, key, rate), createUpstreamLimiter(b!, key, rate)];
    const started = Date.now();
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => limiters[i % 2]!.acquire(60_000).then(() => times.push(Date.now() - started))),
    );
    times.sort((x, y) => x - y);
    // 40 slots at 40/s: the last is 39 intervals after the first.
    expect(times[39]! - times[0]!).toBeGreaterThanOrEqual(39 * 25 - 30);
    expect(times[39]! - times[0]!).toBeLessThan(39 * 25 + 400);
    // Spread, not bursts: no 10 requests inside 100 ms.
    for (let i = 0; i + 9 < times.length; i += 1) expect(times[i + 9]! - times[i]!).toBeGreaterThanOrEqual(200);
  });

  it('lets a high-priority caller book ahead of low-priority callers when the limit is saturated', async () => {
    const { key, clients: [a] } = setup();
    const limiter = createUpstreamLimiter(a!, key, 20); // 50 ms apart
    const order: string[] = [];
    // Twenty low-priority callers may only book 100 ms ahead; they queue up.
    const low = Array.from({ length: 20 }, () => limiter.acquire(100).then(() => order.push('low')));
    await new Promise((r) => setTimeout(r, 60));
    const high = limiter.acquire(30_000).then(() => order.push('high'));
    await Promise.all([...low, high]);
    // Without priorities the high-priority caller would be last of 21.
    expect(order.indexOf('high')).toBeLessThan(10);
  });

  it('does not limit when the rate is 0', async () => {
    const { key, clients: [a] } = setup();
    const limiter = createUpstreamLimiter(a!, key, 0);
    const started = Date.now();
    await Promise.all(Array.from({ length: 100 }, () => limiter.acquire(1)));
    expect(Date.now() - started).toBeLessThan(100);
    expect(await a!.exists(key)).toBe(0);
  });

  it('gives shorter cadences longer horizons (higher priority)', () => {
    expect(horizonForCadence(5 * 60_000)).toBeGreaterThan(horizonForCadence(30 * 60_000));
    expect(horizonForCadence(30 * 60_000)).toBeGreaterThan(horizonForCadence(3_600_000));
  });
});
