import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../shared/redis.js';

/**
 * One upstream rate limit for the whole fleet, kept in Redis so that every
 * replica draws from it. Each request reserves the next free slot
 * (`interval = 1000 / rate` ms apart) and waits until its slot: requests are
 * spread evenly instead of bursting. Redis's clock (TIME) is the only clock,
 * so replicas with skewed clocks still agree.
 *
 * Priorities: a caller reserves only within its horizon (how far ahead the
 * next free slot may be). When the limiter is booked further ahead than a
 * low-priority caller's horizon, it waits without booking, while a
 * high-priority caller (long horizon) books at once: the 5-minute topics are
 * not starved by the hourly projects list.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
if free < now then free = now end
local wait = free - now
if wait > horizon then return -wait end
redis.call('SET', KEYS[1], tostring(free + interval), 'PX', math.ceil(wait + interval) + 1000)
return wait
`;

export interface UpstreamLimiter {
  /** Resolves when this caller may send one request. */
  acquire(horizonMs: number, signal?: AbortSignal): Promise<void>;
}

/** Most time one acquire may spend polling before it books a slot regardless of its priority. */
const MAX_DEFERRAL_MS = 60_000;

export function createUpstreamLimiter(redis: RedisClient, key: string, requestsPerSecond: number): UpstreamLimiter {
  if (!(requestsPerSecond > 0)) return { acquire: async () => undefined };
  const interval = 1000 / requestsPerSecond;
  return {
    async acquire(horizonMs, signal) {
      const started = Date.now();
      // Bounded: every pass either books a slot or sleeps; past the deferral
      // bound a low-priority caller books like a high-priority one.
      for (let pass = 0; pass < 10_000; pass += 1) {
        const horizon = Date.now() - started > MAX_DEFERRAL_MS ? Number.MAX_SAFE_INTEGER : horizonMs;
        const wait = Number(await redis.eval(RESERVE, 1, key, String(interval), String(horizon)));
        if (wait >= 0) {
          if (wait > 0) await sleep(wait, undefined, signal ? { signal } : undefined);
          return;
        }
        // Booked beyond our horizon: come back when our horizon would reach.
        await sleep(Math.max(interval, -wait - horizonMs), undefined, signal ? { signal } : undefined);
      }
    },
  };
}

/** How far ahead a job may book, by its cadence: the shorter the cadence, the higher its priority. */
export function horizonForCadence(cadenceMs: number | undefined): number {
  if (cadenceMs === undefined || cadenceMs <= 5 * 60_000) return 30_000;
  if (cadenceMs <= 30 * 60_000) return 5_000;
  return 1_000;
}
