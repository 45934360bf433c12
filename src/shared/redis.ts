import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis clients from a redis:// or rediss:// URL. BullMQ's blocking
 * connections need `maxRetriesPerRequest: null` (commands wait for a
 * reconnect instead of failing); the cache connection fails fast instead, so
 * that a run reports Redis being down rather than hanging.
 */
export function connectRedis(url: string, purpose: 'queue' | 'cache', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: `cache-warmer:${purpose}`,
    maxRetriesPerRequest: purpose === 'queue' ? null : 2,
    enableReadyCheck: true,
    // Reconnect forever, backing off to 5 s: a daemon outlives Redis restarts.
    retryStrategy: (times) => Math.min(5_000, 100 * 2 ** Math.min(times, 6)),
    ...extra,
  });
}

/** Closes a client: QUIT when connected, else disconnect, never throws. */
export async function closeRedis(client: Redis): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
