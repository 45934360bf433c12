import type { Logger } from 'pino';
import { masters, type RedisClient } from './shared/redis.js';

/**
 * Reconnects connections ioredis gave up on. A connection in status `end`
 * (seen after a Sentinel failover, where one can end instead of
 * reconnecting) never comes back by itself: every command on it fails
 * "Connection is closed". Run by the watchdog on every check.
 */
export function reviveEnded(connections: Readonly<Record<string, RedisClient>>, logger: Logger): void {
  for (const [name, client] of Object.entries(connections)) {
    if (client.status !== 'end') continue;
    logger.warn({ connection: name }, 'a Redis connection had ended: reconnecting');
    client.connect().catch(() => undefined);
  }
}

/**
 * Warns when the queue's Redis may evict (BullMQ would lose schedules). In a
 * cluster the queue's slot may move to any master at a failover: all are read.
 */
export async function warnOnEvictionPolicy(queue: RedisClient, logger: Logger): Promise<void> {
  try {
    const replies = await Promise.all(masters(queue).map((node) => node.config('GET', 'maxmemory-policy') as Promise<string[]>));
    const policy = replies.map((reply) => reply[1]).find((p) => p && p !== 'noeviction');
    if (policy) {
      logger.warn(
        { policy },
        'the queue Redis evicts keys (maxmemory-policy is not noeviction): BullMQ may lose schedules; give the queue its own Redis (REDIS_QUEUE_URL)',
      );
    }
  } catch (error) {
    logger.debug({ err: error }, 'could not read maxmemory-policy (CONFIG may be disabled for this user)');
  }
}
