import { randomBytes } from 'node:crypto';
import { DOCTOR_NAMESPACE } from '../../cache/admin.js';
import { closeRedis, describeTarget, type RedisTarget, type RedisClient } from '../../shared/redis.js';
import { openRedis, redisReason } from '../connect.js';
import { check, type Check } from './check.js';
import { checkPermissions, type RedisRole } from './permissions.js';

/** One Redis server to check, and what the daemon uses it for (both when queue and cache share one URL). */
export interface RedisUnderTest {
  target: RedisTarget;
  roles: readonly RedisRole[];
  /** True when there are two Redis servers: ids and titles then name the role. */
  split: boolean;
}

const isPermissionError = (error: unknown) => error instanceof Error && /NOPERM|no permissions/i.test(error.message);

/**
 * Reachability and version, then what each role needs: PEXPIRE … GT on the
 * cache Redis (serving stale, Redis 7+), `noeviction` on the queue Redis
 * (BullMQ's schedules and jobs, the status store), and the ACL permissions.
 * An unreachable server skips the rest of its checks.
 */
export async function checkRedis(server: RedisUnderTest, prefix: string, queuePrefix: string): Promise<Check[]> {
  const role = server.roles.join(' and ');
  const id = server.split ? `redis.${server.roles[0]}` : 'redis';
  const title = (what: string) => (server.split ? `${what} (${server.roles[0]})` : what);
  const later: Array<[string, string]> = [
    ...(server.roles.includes('cache') ? [[`${id}.pexpire-gt`, title('PEXPIRE … GT')] as [string, string]] : []),
    ...(server.roles.includes('queue') ? [[`${id}.memory-policy`, title('memory policy')] as [string, string]] : []),
    [`${id}.permissions`, title('permissions')],
  ];
  const url = describeTarget(server.target);
  let redis: RedisClient;
  try {
    redis = await openRedis(server.target, role);
  } catch (error) {
    const reason = redisReason((error as { cause?: unknown }).cause ?? error);
    return [
      check(id, title('redis'), 'fail', `${url} (${role}): cannot connect (${reason})`),
      ...later.map(([laterId, laterTitle]) => check(laterId, laterTitle, 'skip', 'Redis is not reachable')),
    ];
  }
  try {
    let version: string | undefined;
    try {
      version = await redisVersion(redis);
    } catch (error) {
      return [
        check(id, title('redis'), 'fail', `${url} (${role}): ${redisReason(error)}`),
        ...later.map(([laterId, laterTitle]) => check(laterId, laterTitle, 'skip', 'Redis did not answer')),
      ];
    }
    const checks = [check(id, title('redis'), 'ok', `${url} (${role}): Redis ${version ?? 'of unknown version (INFO not permitted)'}`)];
    if (server.roles.includes('cache')) checks.push(await checkPexpireGt(redis, `${id}.pexpire-gt`, title('PEXPIRE … GT'), prefix, version));
    if (server.roles.includes('queue')) checks.push(await checkMemoryPolicy(redis, `${id}.memory-policy`, title('memory policy'), server.split));
    const permissions = await checkPermissions(redis, server.roles, prefix, queuePrefix);
    checks.push(check(`${id}.permissions`, title('permissions'), permissions.status, permissions.detail));
    return checks;
  } finally {
    await closeRedis(redis);
  }
}

async function redisVersion(redis: RedisClient): Promise<string | undefined> {
  try {
    return /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1];
  } catch (error) {
    if (isPermissionError(error)) return undefined;
    throw error;
  }
}

/** Serving stale extends TTLs with PEXPIRE … GT (cache/store.ts), which Redis 7.0 added: tried for real on a scratch key. */
async function checkPexpireGt(redis: RedisClient, id: string, title: string, prefix: string, version: string | undefined): Promise<Check> {
  const key = `${prefix}:${DOCTOR_NAMESPACE}:${randomBytes(4).toString('hex')}:gt`;
  try {
    await redis.set(key, '1', 'PX', 60_000);
    const extended = await redis.pexpire(key, 120_000, 'GT');
    if (extended === 1) return check(id, title, 'ok', 'supported (serving stale extends TTLs with it)');
    return check(id, title, 'fail', `PEXPIRE … GT did not extend a TTL (Redis ${version ?? 'of unknown version'}): serving stale needs Redis 7.0+`);
  } catch (error) {
    if (isPermissionError(error)) return check(id, title, 'skip', 'not permitted to try (see permissions)');
    return check(id, title, 'fail', `not supported by Redis ${version ?? 'of unknown version'} (${redisReason(error)}): serving stale needs Redis 7.0+`);
  } finally {
    await redis.unlink(key).catch(() => undefined);
  }
}

/**
 * The queue Redis must not evict: an evicted BullMQ key loses a schedule or
 * a job, an evicted status hash loses the run history. INFO is tried first
 * (often allowed where CONFIG is not, e.g. on managed Redis).
 */
async function checkMemoryPolicy(redis: RedisClient, id: string, title: string, split: boolean): Promise<Check> {
  let policy: string | undefined;
  try {
    policy = /^maxmemory_policy:(\S+)/m.exec(await redis.info('memory'))?.[1];
  } catch {
    // not permitted: CONFIG GET below
  }
  if (policy === undefined) {
    try {
      policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
    } catch {
      // not permitted either
    }
  }
  if (policy === undefined) {
    return check(id, title, 'warn', 'could not read maxmemory-policy (INFO and CONFIG not permitted): make sure it is noeviction');
  }
  if (policy === 'noeviction') return check(id, title, 'ok', 'noeviction: queue jobs, schedules and the status store are never evicted');
  const fix = split ? 'set maxmemory-policy noeviction on it' : 'give the queue its own Redis with noeviction (REDIS_QUEUE_URL) and keep eviction on the cache Redis (REDIS_CACHE_URL)';
  return check(id, title, 'fail', `maxmemory-policy is ${policy}: Redis may evict BullMQ's schedules and jobs and the status store; ${fix}`);
}
