/**
 * `cache-warmer doctor` as a process, against real servers: the run's shared
 * redis-server (never reconfigured here), private redis-servers for what a
 * check must catch (an evicting queue Redis, a password, an ACL user), and
 * the upstream simulator (healthy, refusing the token, a short token
 * lifetime) or a closed port.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { spawnCli } from '../support/daemon.js';
import { dropPrefix, keysUnder, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { freePort, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../support/simulator/server.js';

interface CheckDoc {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
}
interface DoctorDoc {
  ok: boolean;
  summary: Record<CheckDoc['status'], number>;
  checks: CheckDoc[];
}

const newToken = () => `${randomUUID().toUpperCase()}_${randomBytes(8).toString('hex').toUpperCase()}`;

/** What a test started, stopped by PID (servers) or closed, in reverse order. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

async function simulator(options: SimulatorOptions): Promise<Simulator> {
  const sim = await startSimulator({ projects: 3, ...options });
  cleanups.push(() => sim.close());
  return sim;
}

async function privateRedis(args: string[] = []): Promise<RedisServer> {
  const server = await startRedisServer(args);
  cleanups.push(() => server.stop());
  return server;
}

/** A healthy world: the shared Redis, a simulator accepting `token`, a fresh prefix. */
async function world(simOptions: SimulatorOptions = {}) {
  const token = newToken();
  const sim = await simulator({ token, ...simOptions });
  const prefix = newPrefix();
  const redis = testRedis();
  cleanups.push(async () => {
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });
  const env: Record<string, string> = {
    REDIS_URL: redisUrl(),
    CACHE_PREFIX: prefix,
    UPSTREAM_BASE_URL: sim.url,
    UPSTREAM_TOKEN: token,
    UPSTREAM_GROUP_ID: sim.options.groupId,
  };
  return { token, sim, prefix, redis, env };
}

async function doctor(env: Record<string, string>, json = false) {
  const run = spawnCli(['doctor', ...(json ? ['--json'] : [])], env);
  const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 25_000))]);
  if (code === 'timeout') await run.stop('SIGKILL');
  const output = run.output();
  return { code, output, doc: json ? (JSON.parse(output) as DoctorDoc) : undefined };
}

const byId = (doc: DoctorDoc, id: string) => {
  const found = doc.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check "${id}" in ${doc.checks.map((c) => c.id).join(', ')}`);
  return found;
};

describe('cache-warmer doctor', () => {
  it('passes every check against a healthy Redis and upstream (exit 0), as a checklist and as JSON', async () => {
    const w = await world();
    const text = await doctor(w.env);
    expect(text.code, text.output).toBe(0);
    const lines = text.output.trimEnd().split('\n');
    for (const title of ['configuration', 'redis', 'PEXPIRE … GT', 'memory policy', 'permissions', 'upstream', 'upstream token', 'token lifetime']) {
      expect(lines.some((l) => l.startsWith(`✓ ${title} `)), `a ✓ line for ${title}:\n${text.output}`).toBe(true);
    }
    expect(text.output).not.toMatch(/^[✗!-] /m);
    expect(text.output).toMatch(/^✓ token lifetime\s+30d left \(x-expire-in: 2592000 s\)$/m);
    expect(text.output).toMatch(/^✓ redis\s+redis:\/\/127\.0\.0\.1:\d+ \(queue and cache\): Redis \d+\.\d+/m);
    expect(lines.at(-1)).toBe('8 checks: 8 ok');
    expect(text.output).not.toContain(w.token);

    const json = await doctor(w.env, true);
    expect(json.code).toBe(0);
    expect(json.doc!.ok).toBe(true);
    expect(json.doc!.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'ok'],
      ['redis', 'ok'],
      ['redis.pexpire-gt', 'ok'],
      ['redis.memory-policy', 'ok'],
      ['redis.permissions', 'ok'],
      ['upstream', 'ok'],
      ['upstream.token', 'ok'],
      ['upstream.token-lifetime', 'ok'],
    ]);
    expect(json.output).not.toContain(w.token);
    // The probes left nothing behind under the prefix.
    expect(await keysUnder(w.redis, w.prefix)).toEqual([]);
  });

  it('fails (exit 1) when the queue Redis may evict, naming the policy and the fix', async () => {
    const w = await world();
    const evicting = await privateRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    const split = await doctor({ ...w.env, REDIS_QUEUE_URL: evicting.url }, true);
    expect(split.code).toBe(1);
    expect(byId(split.doc!, 'redis.queue.memory-policy')).toMatchObject({ title: 'memory policy (queue)', status: 'fail' });
    expect(byId(split.doc!, 'redis.queue.memory-policy').detail).toBe(
      "maxmemory-policy is allkeys-lru: Redis may evict BullMQ's schedules and jobs and the status store; set maxmemory-policy noeviction on it",
    );
    // The cache Redis is checked on its own; eviction is fine there.
    expect(byId(split.doc!, 'redis.cache')).toMatchObject({ status: 'ok' });
    expect(byId(split.doc!, 'redis.cache.pexpire-gt')).toMatchObject({ status: 'ok' });

    const shared = await doctor({ ...w.env, REDIS_URL: evicting.url });
    expect(shared.code).toBe(1);
    expect(shared.output).toMatch(/^✗ memory policy\s+maxmemory-policy is allkeys-lru: .*give the queue its own Redis with noeviction \(REDIS_QUEUE_URL\)/m);
  });

  it('fails (exit 1) when the upstream refuses the token, and skips its lifetime', async () => {
    const w = await world();
    w.sim.setToken(newToken());
    const result = await doctor(w.env);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/^✓ upstream\s+http:\/\/127\.0\.0\.1:\d+ answered GET \/v2\/groups\/\d+\/checkins in \d+ ms$/m);
    expect(result.output).toMatch(/^✗ upstream token\s+token refused \(HTTP 401\): expired or revoked; put a new one in UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE$/m);
    expect(result.output).toMatch(/^- token lifetime\s+the token was refused$/m);
    expect(result.output).not.toContain(w.token);
  });

  it('fails (exit 1) when the upstream does not answer', async () => {
    const w = await world();
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await doctor({ ...w.env, UPSTREAM_BASE_URL: closed }, true);
    expect(result.code).toBe(1);
    expect(byId(result.doc!, 'upstream')).toMatchObject({ status: 'fail' });
    expect(byId(result.doc!, 'upstream').detail).toMatch(new RegExp(`^${closed.replace(/[.]/g, '\\.')}: ERR_UPSTREAM_NETWORK: GET /v2/groups/\\d+/checkins: ECONNREFUSED$`));
    expect(byId(result.doc!, 'upstream.token').status).toBe('skip');
    // Redis is fine: only the upstream fails.
    expect(result.doc!.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['upstream']);
  });

  it('warns, without failing, when the token has less than a day left', async () => {
    const w = await world({ expireInSeconds: 5 * 3600 + 120 });
    const result = await doctor(w.env);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/^! token lifetime\s+5h 2m left \(x-expire-in: 18120 s\): under a day, rotate the token soon$/m);
    expect(result.output.trimEnd().split('\n').at(-1)).toBe('8 checks: 7 ok, 1 warning');
  });

  it('never prints the Redis password: redacted URL on success, and on a refused password', async () => {
    const w = await world();
    const password = `pw-${randomBytes(12).toString('hex')}`;
    // Started without a password (the support code probes it with a plain PING), then guarded: a private server.
    const guarded = await privateRedis();
    const admin = new Redis(guarded.url, { maxRetriesPerRequest: 1 });
    await admin.config('SET', 'requirepass', password);
    admin.disconnect();
    const url = (pw: string) => `redis://:${pw}@127.0.0.1:${guarded.port}`;

    const ok = await doctor({ ...w.env, REDIS_URL: url(password) });
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain(`redis://:***@127.0.0.1:${guarded.port}`);
    expect(ok.output).not.toContain(password);

    const wrong = `pw-${randomBytes(12).toString('hex')}`;
    const refused = await doctor({ ...w.env, REDIS_URL: url(wrong) }, true);
    expect(refused.code).toBe(1);
    expect(byId(refused.doc!, 'redis')).toMatchObject({ status: 'fail' });
    expect(byId(refused.doc!, 'redis').detail).toMatch(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(queue and cache\): cannot connect \(WRONGPASS/);
    expect(byId(refused.doc!, 'redis.permissions')).toMatchObject({ status: 'skip', detail: 'Redis is not reachable' });
    for (const secret of [password, wrong, w.token]) expect(refused.output).not.toContain(secret);

    const noPassword = await doctor({ ...w.env, REDIS_URL: guarded.url }, true);
    expect(byId(noPassword.doc!, 'redis').detail).toContain('NOAUTH');
  });

  it('fails (exit 1) on NOPERM, naming the refused commands, for an ACL user without INFO', async () => {
    const w = await world();
    const server = await privateRedis();
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => admin.disconnect());
    const password = `acl-${randomBytes(12).toString('hex')}`;
    // What a cautious operator might write: every command except the dangerous and admin ones, on the prefix only.
    await admin.call('ACL', 'SETUSER', 'warmer', 'on', `>${password}`, `~${w.prefix}:*`, `~{${w.prefix}}:*`, '+@all', '-@dangerous', '-@admin');
    const result = await doctor({ ...w.env, REDIS_URL: `redis://warmer:${password}@127.0.0.1:${server.port}` }, true);
    expect(result.code).toBe(1);
    expect(byId(result.doc!, 'redis')).toMatchObject({ status: 'ok' });
    expect(byId(result.doc!, 'redis').detail).toContain('Redis of unknown version (INFO not permitted)');
    expect(byId(result.doc!, 'redis.memory-policy').status).toBe('warn');
    expect(byId(result.doc!, 'redis.permissions')).toMatchObject({
      status: 'fail',
      detail: 'user "warmer" may not run INFO (BullMQ checks the Redis version); e.g. ACL SETUSER warmer +info',
    });
    expect(result.output).not.toContain(password);
    // The probe's scratch keys are gone.
    expect(await keysUnder(admin, w.prefix)).toEqual([]);

    // A key pattern that leaves out the prefix: every keyed command is refused, and the fix names the pattern.
    await admin.call('ACL', 'SETUSER', 'elsewhere', 'on', `>${password}`, '~other:*', '+@all');
    const keys = await doctor({ ...w.env, REDIS_URL: `redis://elsewhere:${password}@127.0.0.1:${server.port}` }, true);
    expect(keys.code).toBe(1);
    // With +@all the user may run ACL DRYRUN: the check needs no scratch key.
    expect(byId(keys.doc!, 'redis.permissions').detail).toMatch(new RegExp(`^user "elsewhere" may not access the keys under ${w.prefix}: it uses \\(SET, GET, .*\\); e\\.g\\. ACL SETUSER elsewhere ~${w.prefix}:\\* ~\\{${w.prefix}\\}:\\*$`));
  });

  it('reports an invalid configuration as the first, failed check and exits 3', async () => {
    const w = await world();
    const text = await doctor({ ...w.env, UPSTREAM_BASE_URL: 'not a url' });
    expect(text.code).toBe(3);
    expect(text.output.trimEnd().split('\n')).toEqual([
      '✗ configuration  UPSTREAM_BASE_URL: upstream.baseUrl "not a url" is not an http(s) URL',
      '- redis          needs a valid configuration',
      '- upstream       needs a valid configuration',
      '',
      '3 checks: 0 ok, 1 failed, 2 skipped',
    ]);
    const json = await doctor({ ...w.env, UPSTREAM_TOKEN: '' }, true);
    expect(json.code).toBe(3);
    expect(json.doc!.checks[0]).toEqual({ id: 'config', title: 'configuration', status: 'fail', detail: 'upstream.token: missing (set UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE)' });
  });

  it('fails every Redis check but still checks the upstream when Redis is down', async () => {
    const w = await world();
    const port = await freePort();
    const result = await doctor({ ...w.env, REDIS_URL: `redis://127.0.0.1:${port}` }, true);
    expect(result.code).toBe(1);
    expect(result.doc!.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'ok'],
      ['redis', 'fail'],
      ['redis.pexpire-gt', 'skip'],
      ['redis.memory-policy', 'skip'],
      ['redis.permissions', 'skip'],
      ['upstream', 'ok'],
      ['upstream.token', 'ok'],
      ['upstream.token-lifetime', 'ok'],
    ]);
    expect(byId(result.doc!, 'redis').detail).toBe(`redis://127.0.0.1:${port} (queue and cache): cannot connect (ECONNREFUSED)`);
  });
});
