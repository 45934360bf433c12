import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../shared/redis.js';
import { DOCTOR_NAMESPACE } from '../../cache/admin.js';
import { hashTag } from '../../cache/keys.js';
import { redisReason } from '../connect.js';
import type { CheckStatus } from './check.js';

/** Which connection sends a command: the cache Redis (warmed keys) or the queue Redis (BullMQ, status store, rate limit). */
export type RedisRole = 'cache' | 'queue';

/** Scratch keys in the namespaces the daemon writes, so that ACL key patterns are checked where they matter. */
interface ProbeKeys {
  cache: string;
  cacheHash: string;
  status: string;
  statusSet: string;
  limiter: string;
  bullZset: string;
  bullList: string;
  bullList2: string;
  bullSet: string;
  bullStream: string;
  bullHash: string;
  bullString: string;
}

interface Probe {
  command: string;
  args: (k: ProbeKeys) => string[];
  role: RedisRole;
  /**
   * How the fallback probe runs it: `direct` as a command, `script` inside one
   * Lua script (ACL checks a script's commands like direct ones; the script
   * deletes what it wrote before it returns), `transaction` as MULTI … EXEC.
   */
  via: 'direct' | 'script' | 'transaction';
  why: string;
}

const BULL = "BullMQ's scripts";

/**
 * The commands the daemon sends, by connection: the cache store
 * (cache/store.ts), the status store (status/store.ts), the rate limiter
 * (limit/upstream-limiter.ts) and BullMQ. BullMQ's Lua scripts call some 60
 * commands; those listed are one or more of each data type they touch, so a
 * category denied by ACL (@list, @stream, @scripting …) shows.
 */
const PROBES: readonly Probe[] = [
  { command: 'SET', args: (k) => [k.cache, '1', 'EX', '60'], role: 'cache', via: 'direct', why: 'writes warmed keys' },
  { command: 'GET', args: (k) => [k.cache], role: 'cache', via: 'direct', why: 'reads the project lists, serving stale' },
  { command: 'PEXPIRE', args: (k) => [k.cache, '60000', 'GT'], role: 'cache', via: 'direct', why: 'serving stale' },
  { command: 'HSET', args: (k) => [k.cacheHash, 'f', '1'], role: 'cache', via: 'direct', why: 'marks deleted projects' },
  { command: 'PEXPIRE', args: (k) => [k.cacheHash, '60000', 'NX'], role: 'cache', via: 'direct', why: 'marks deleted projects' },
  { command: 'HGETALL', args: (k) => [k.cacheHash], role: 'cache', via: 'direct', why: 'reads the deleted projects' },
  { command: 'HDEL', args: (k) => [k.cacheHash, 'f'], role: 'cache', via: 'direct', why: 'forgets expired marks' },
  { command: 'MULTI', args: () => [], role: 'cache', via: 'transaction', why: 'marks deleted projects' },
  { command: 'EXEC', args: () => [], role: 'cache', via: 'transaction', why: 'marks deleted projects' },

  { command: 'INFO', args: () => [], role: 'queue', via: 'direct', why: 'BullMQ checks the Redis version' },
  { command: 'EVAL', args: (k) => ['return 1', '1', k.limiter], role: 'queue', via: 'direct', why: 'the rate limiter and the status store' },
  { command: 'EVALSHA', args: (k) => ['0000000000000000000000000000000000000000', '1', k.bullHash], role: 'queue', via: 'direct', why: BULL },
  { command: 'BZPOPMIN', args: (k) => [k.bullZset, '0.01'], role: 'queue', via: 'direct', why: 'the worker waits for jobs' },
  { command: 'HGETALL', args: (k) => [k.status], role: 'queue', via: 'direct', why: 'reads the status store' },
  { command: 'SMEMBERS', args: (k) => [k.statusSet], role: 'queue', via: 'direct', why: 'reads the status store' },
  { command: 'MULTI', args: () => [], role: 'queue', via: 'transaction', why: 'records throttling' },
  { command: 'EXEC', args: () => [], role: 'queue', via: 'transaction', why: 'records throttling' },
  { command: 'SADD', args: (k) => [k.statusSet, 'x'], role: 'queue', via: 'script', why: 'records runs' },
  { command: 'HSETNX', args: (k) => [k.status, 'a', '1'], role: 'queue', via: 'script', why: 'records runs' },
  { command: 'HINCRBY', args: (k) => [k.status, 'n', '1'], role: 'queue', via: 'script', why: 'records runs' },
  { command: 'HSET', args: (k) => [k.status, 'f', '1'], role: 'queue', via: 'script', why: 'records runs' },
  { command: 'HKEYS', args: (k) => [k.status], role: 'queue', via: 'script', why: 'records runs' },
  { command: 'HDEL', args: (k) => [k.status, 'f'], role: 'queue', via: 'script', why: 'records runs' },
  { command: 'TIME', args: () => [], role: 'queue', via: 'script', why: 'the rate limiter' },
  { command: 'GET', args: (k) => [k.limiter], role: 'queue', via: 'script', why: 'the rate limiter' },
  { command: 'SET', args: (k) => [k.limiter, '1', 'PX', '1000'], role: 'queue', via: 'script', why: 'the rate limiter' },
  { command: 'ZADD', args: (k) => [k.bullZset, '1', 'm'], role: 'queue', via: 'script', why: BULL },
  { command: 'ZRANGEBYSCORE', args: (k) => [k.bullZset, '0', '1'], role: 'queue', via: 'script', why: BULL },
  { command: 'ZRANGE', args: (k) => [k.bullZset, '0', '-1'], role: 'queue', via: 'script', why: BULL },
  { command: 'ZCARD', args: (k) => [k.bullZset], role: 'queue', via: 'script', why: BULL },
  { command: 'ZSCORE', args: (k) => [k.bullZset, 'm'], role: 'queue', via: 'script', why: BULL },
  { command: 'ZPOPMIN', args: (k) => [k.bullZset], role: 'queue', via: 'script', why: BULL },
  { command: 'ZREM', args: (k) => [k.bullZset, 'm'], role: 'queue', via: 'script', why: BULL },
  { command: 'LPUSH', args: (k) => [k.bullList, 'a'], role: 'queue', via: 'script', why: BULL },
  { command: 'RPUSH', args: (k) => [k.bullList, 'b'], role: 'queue', via: 'script', why: BULL },
  { command: 'LRANGE', args: (k) => [k.bullList, '0', '-1'], role: 'queue', via: 'script', why: BULL },
  { command: 'LLEN', args: (k) => [k.bullList], role: 'queue', via: 'script', why: BULL },
  { command: 'RPOPLPUSH', args: (k) => [k.bullList, k.bullList2], role: 'queue', via: 'script', why: BULL },
  { command: 'LREM', args: (k) => [k.bullList2, '0', 'b'], role: 'queue', via: 'script', why: BULL },
  { command: 'LTRIM', args: (k) => [k.bullList, '0', '10'], role: 'queue', via: 'script', why: BULL },
  { command: 'SREM', args: (k) => [k.bullSet, 'x'], role: 'queue', via: 'script', why: BULL },
  { command: 'SCARD', args: (k) => [k.bullSet], role: 'queue', via: 'script', why: BULL },
  { command: 'XADD', args: (k) => [k.bullStream, '*', 'f', 'v'], role: 'queue', via: 'script', why: BULL },
  { command: 'XTRIM', args: (k) => [k.bullStream, 'MAXLEN', '10'], role: 'queue', via: 'script', why: BULL },
  { command: 'XLEN', args: (k) => [k.bullStream], role: 'queue', via: 'script', why: BULL },
  { command: 'HMGET', args: (k) => [k.bullHash, 'a'], role: 'queue', via: 'script', why: BULL },
  { command: 'HGET', args: (k) => [k.bullHash, 'a'], role: 'queue', via: 'script', why: BULL },
  { command: 'HINCRBY', args: (k) => [k.bullHash, 'n', '1'], role: 'queue', via: 'script', why: BULL },
  { command: 'EXISTS', args: (k) => [k.bullString], role: 'queue', via: 'script', why: BULL },
  { command: 'INCR', args: (k) => [k.bullString], role: 'queue', via: 'script', why: BULL },
  { command: 'PEXPIRE', args: (k) => [k.bullString, '60000'], role: 'queue', via: 'script', why: BULL },
  { command: 'PTTL', args: (k) => [k.bullString], role: 'queue', via: 'script', why: BULL },
  { command: 'TYPE', args: (k) => [k.bullString], role: 'queue', via: 'script', why: BULL },
  { command: 'DEL', args: (k) => [k.bullString], role: 'queue', via: 'script', why: BULL },
];

/**
 * Runs the probe commands (from JSON in ARGV[1]) with redis.pcall and returns
 * `index message` for each one ACL refused; other errors (a wrong type) mean
 * the permission was there. Every scratch key is deleted before it returns.
 */
const PROBE_SCRIPT = `
local denied = {}
for i, args in ipairs(cjson.decode(ARGV[1])) do
  local reply = redis.pcall(unpack(args))
  if type(reply) == 'table' and reply.err then
    local e = reply.err
    if string.find(e, "can't run", 1, true) or string.find(e, "can't access", 1, true) or string.find(e, 'NOPERM', 1, true) or string.find(e, 'no permissions', 1, true) then
      denied[#denied + 1] = i .. ' ' .. e
    end
  end
end
for _, key in ipairs(KEYS) do redis.pcall('DEL', key) end
return denied
`;

interface Denial {
  probe: Probe;
  /** Whether a key pattern refused it, rather than the command itself. */
  key: boolean;
}

export interface PermissionResult {
  status: CheckStatus;
  detail: string;
}

const isPermissionError = (message: string) => /NOPERM|no permissions|can't run|can't access/i.test(message);
const isKeyDenial = (message: string) => /\bkeys?\b/i.test(message);

/**
 * Checks that this connection's ACL user may send every command the daemon
 * sends on it (for `roles`), on keys in the namespaces it uses. First with
 * ACL DRYRUN (Redis 7+; it needs @admin, so usually only for an admin or
 * the default user): exact, writes nothing. Otherwise by running the commands
 * on scratch keys under the prefix, deleted at once (they carry a TTL or
 * live only inside one script).
 */
export async function checkPermissions(redis: RedisClient, roles: readonly RedisRole[], prefix: string, queuePrefix: string): Promise<PermissionResult> {
  const probes = PROBES.filter((p) => roles.includes(p.role));
  const keys = probeKeys(prefix, queuePrefix);
  const user = await redis.call('ACL', 'WHOAMI').then(
    (name) => String(name),
    () => undefined,
  );
  const who = user === undefined ? 'this connection' : `user "${user}"`;
  try {
    const dry = user === undefined ? undefined : await dryRun(redis, user, probes, keys);
    const denials = dry ?? (await probeCommands(redis, probes, keys));
    const how = dry ? 'ACL DRYRUN' : `probed on scratch keys under ${prefix}:`;
    if (denials.length === 0) return { status: 'ok', detail: `${who} may send the ${probes.length} commands the daemon uses (${how})` };
    return { status: 'fail', detail: describeDenials(who, user, denials, prefix) };
  } catch (error) {
    return { status: 'fail', detail: `could not check the permissions of ${who}: ${redisReason(error)}` };
  }
}

function probeKeys(prefix: string, queuePrefix: string): ProbeKeys {
  const id = randomBytes(4).toString('hex');
  const scratch = `${DOCTOR_NAMESPACE}-probe-${id}`;
  const bull = `${queuePrefix}:${scratch}`;
  // Each role's scratch keys share a slot ({id}, and the prefix's tag for the
  // internal ones), so that one script may touch them all in a cluster too.
  return {
    cache: `${prefix}:${DOCTOR_NAMESPACE}:{${id}}`,
    cacheHash: `${prefix}:${DOCTOR_NAMESPACE}:{${id}}:h`,
    status: `${hashTag(prefix)}:status:${scratch}`,
    statusSet: `${hashTag(prefix)}:status:${scratch}:set`,
    limiter: `${hashTag(prefix)}:ratelimit:${scratch}`,
    bullZset: `${bull}:z`,
    bullList: `${bull}:l`,
    bullList2: `${bull}:l2`,
    bullSet: `${bull}:s`,
    bullStream: `${bull}:x`,
    bullHash: `${bull}:h`,
    bullString: `${bull}:k`,
  };
}

/** ACL DRYRUN for every probe; undefined when DRYRUN itself is not available to this user (or this Redis). */
async function dryRun(redis: RedisClient, user: string, probes: readonly Probe[], keys: ProbeKeys): Promise<Denial[] | undefined> {
  const pipeline = redis.pipeline();
  for (const p of probes) pipeline.call('ACL', 'DRYRUN', user, p.command, ...p.args(keys));
  const replies = (await pipeline.exec()) ?? [];
  if (replies.length !== probes.length || replies.some(([error]) => error)) return undefined;
  // DRYRUN answers OK, or a sentence saying why the command would be refused.
  return probes.flatMap((probe, i) => {
    const answer = String(replies[i]![1]);
    return answer === 'OK' ? [] : [{ probe, key: isKeyDenial(answer) }];
  });
}

async function probeCommands(redis: RedisClient, probes: readonly Probe[], keys: ProbeKeys): Promise<Denial[]> {
  const denials: Denial[] = [];
  const scratch = Object.values(keys);
  const cacheKeys = [keys.cache, keys.cacheHash];
  try {
    for (const probe of probes.filter((p) => p.via === 'direct')) {
      await redis.call(probe.command, ...probe.args(keys)).catch((error: unknown) => {
        // NOSCRIPT (EVALSHA of an unknown script), WRONGTYPE …: the permission was there.
        const message = error instanceof Error ? error.message : '';
        if (isPermissionError(message)) denials.push({ probe, key: isKeyDenial(message) });
      });
    }
    for (const role of ['cache', 'queue'] as const) {
      const transaction = probes.filter((p) => p.via === 'transaction' && p.role === role);
      if (transaction.length === 0) continue;
      await redis
        .multi()
        .exists(role === 'cache' ? keys.cache : keys.status)
        .exec()
        .catch(async (error: unknown) => {
          const message = error instanceof Error ? error.message : '';
          // A refused EXEC leaves the connection inside MULTI.
          await redis.call('DISCARD').catch(() => undefined);
          // A refused MULTI shows as EXEC's error: the EXEC then had no MULTI.
          const refused = /EXEC without MULTI/i.test(message)
            ? transaction.filter((p) => p.command === 'MULTI')
            : isPermissionError(message)
              ? transaction.filter((p) => message.toLowerCase().includes(`'${p.command.toLowerCase()}'`))
              : [];
          for (const probe of refused) denials.push({ probe, key: false });
        });
    }
    const inScript = probes.filter((p) => p.via === 'script');
    if (inScript.length) {
      const evalDenied = denials.some((d) => d.probe.command === 'EVAL');
      // One script per role: a cluster runs a script only on keys of one slot.
      for (const role of evalDenied ? [] : (['cache', 'queue'] as const)) {
        const group = inScript.filter((p) => p.role === role);
        const groupKeys = role === 'cache' ? cacheKeys : scratch.filter((k) => !cacheKeys.includes(k));
        if (group.length === 0) continue;
        const reply = (await redis.eval(PROBE_SCRIPT, groupKeys.length, ...groupKeys, JSON.stringify(group.map((p) => [p.command, ...p.args(keys)])))) as string[];
        for (const line of reply) {
          const index = Number(line.slice(0, line.indexOf(' '))) - 1;
          const probe = group[index];
          if (probe) denials.push({ probe, key: isKeyDenial(line) });
        }
      }
    }
  } finally {
    // One key per command: the keys live in two slots.
    await Promise.all(scratch.map((key) => redis.unlink(key).catch(() => undefined)));
  }
  return denials;
}

function describeDenials(who: string, user: string | undefined, denials: readonly Denial[], prefix: string): string {
  const list = (items: string[]) => items.slice(0, 6).join(', ') + (items.length > 6 ? `, and ${items.length - 6} more` : '');
  const whys = new Map<string, Set<string>>();
  for (const d of denials.filter((x) => !x.key)) whys.set(d.probe.command, (whys.get(d.probe.command) ?? new Set()).add(d.probe.why));
  const commands = [...whys].map(([command, why]) => `${command} (${[...why].join('; ')})`);
  const onKeys = [...new Set(denials.filter((d) => d.key).map((d) => d.probe.command))];
  const parts = [
    ...(commands.length ? [`may not run ${list(commands)}`] : []),
    ...(onKeys.length ? [`may not access the keys under ${prefix}: it uses (${list(onKeys)})`] : []),
  ];
  const fix = [...new Set(denials.filter((d) => !d.key).map((d) => `+${d.probe.command.toLowerCase()}`)), ...(onKeys.length ? [`~${prefix}:*`, `~${hashTag(prefix)}:*`] : [])];
  return `${who} ${parts.join('; ')}; e.g. ACL SETUSER ${user ?? '<user>'} ${fix.join(' ')}`;
}
