import { WarmerError } from '../shared/errors.js';
import { closeRedis, connectRedis, describeTarget, type RedisTarget, type RedisClient } from '../shared/redis.js';
import { scrub } from '../shared/secrets.js';

/** How long an admin command waits for Redis to accept the connection. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A connection for a short-lived command (keys, clear, doctor): connected
 * before it is returned, and never reconnecting, so that a Redis that is
 * down is one clear error naming the server (password masked) instead of a
 * command that waits forever. `what` names the server in messages: "cache".
 */
export async function openRedis(target: RedisTarget, what: string): Promise<RedisClient> {
  const client = connectRedis(target, 'cache', {
    connectionName: 'cache-warmer:admin',
    lazyConnect: true,
    // The ready check sends INFO, which a restricted ACL user may not run
    // (ioredis then prints a warning); a server still loading answers LOADING instead.
    enableReadyCheck: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  // Reported through connect()'s rejection; without a listener ioredis would
  // print it whole. The socket's error (ECONNREFUSED) is more telling than the
  // rejection ("Connection is closed.") that follows it.
  let socketError: unknown;
  client.on('error', (error) => (socketError ??= error));
  try {
    await client.connect();
    // Connected is not accepted: a server that wants a password (NOAUTH) says so only to a command.
    await client.ping();
    return client;
  } catch (error) {
    await closeRedis(client);
    const cause = socketError ?? error;
    throw new WarmerError('ERR_CACHE', `${what} Redis ${describeTarget(target)}: cannot connect (${redisReason(cause)})`, { cause });
  }
}

/** A short reason from an ioredis error: its code (ECONNREFUSED) or the server's reply (NOAUTH …, WRONGPASS …), scrubbed. */
export function redisReason(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return scrub(error.message).slice(0, 200);
}
