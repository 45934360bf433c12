import { Redis, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  url: string;
  /** PEM of the CA that signed the server's certificate, for rediss:// URLs. */
  ca?: string | undefined;
}

/**
 * ioredis clients from a redis:// or rediss:// URL (user and password in the
 * URL give AUTH or an ACL user). BullMQ's connections need
 * `maxRetriesPerRequest: null`: commands wait for a reconnect instead of
 * failing. The cache connection fails a command after two reconnect attempts
 * instead, so that a refresh reports Redis being down rather than hanging.
 */
export function connectRedis(target: RedisTarget, purpose: 'queue' | 'cache', extra: RedisOptions = {}): Redis {
  const tls = target.url.startsWith('rediss:') && target.ca ? { tls: { ca: target.ca } } : {};
  return new Redis(target.url, {
    connectionName: `cache-warmer:${purpose}`,
    maxRetriesPerRequest: purpose === 'queue' ? null : 2,
    enableReadyCheck: true,
    // ioredis waits this long for a socket to close on disconnect(); 2 s by
    // default, which a second SIGTERM should not have to wait out.
    disconnectTimeout: 200,
    // TCP keepalive finds a dead peer that never sends a reset.
    keepAlive: 10_000,
    // Reconnect forever, backing off to 5 s: a daemon outlives Redis restarts.
    retryStrategy: (times) => Math.min(5_000, 100 * 2 ** Math.min(times, 6)),
    ...tls,
    ...extra,
  });
}

/** Closes a client: QUIT when connected, else disconnect; never throws, never waits long. */
export async function closeRedis(client: Redis): Promise<void> {
  try {
    if (client.status === 'ready') {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    }
  } catch {
    // fall through to disconnect
  }
  if (client.status !== 'end') client.disconnect();
}
