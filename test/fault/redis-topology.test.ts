/**
 * How the daemon reaches Redis: the queue and the cache on two instances
 * (REDIS_QUEUE_URL, REDIS_CACHE_URL), an evicting queue Redis, a password,
 * an ACL user and TLS. Each test owns its redis-server processes; the
 * password must appear in no log line and in no value Redis holds.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { DaemonProcess } from '../support/daemon.js';
import { scanAll } from '../support/redis.js';
import { freePort } from '../support/redis-server.js';
import { dumpAll, faultWorldPerTest, logsWith, makeTlsFiles, waitFresh, type FaultWorld } from '../support/fault-world.js';

const world = faultWorldPerTest();

const EVICTION_WARNING = 'maxmemory-policy is not noeviction';

/** A password with characters that URLs must encode, so both spellings are searched for. */
function newPassword(): string {
  return `pw/${randomBytes(6).toString('hex')}@x:y+z%`;
}

/** The password (raw and URL-encoded) and the upstream token appear in no output and no value. */
async function expectNoSecret(w: FaultWorld, daemon: DaemonProcess, admin: Redis, password: string): Promise<void> {
  const dump = await dumpAll(admin);
  expect(dump).toContain(w.topicsKey(w.projectIds()[0]!)); // the dump did read the warmed keys
  for (const secret of [password, encodeURIComponent(password), w.token]) {
    expect(daemon.output().includes(secret), `a log line holds ${secret === w.token ? 'the token' : 'the Redis password'}`).toBe(false);
    expect(dump.includes(secret), `a Redis value holds ${secret === w.token ? 'the token' : 'the Redis password'}`).toBe(false);
  }
}

describe('queue and cache on separate Redis instances', () => {
  it('keeps the BullMQ and status keys in the queue Redis and the warmed keys in the cache Redis', async () => {
    const w = await world();
    const queue = await w.startRedis();
    // The cache may evict: that is what it is for, and no reason to warn.
    const cache = await w.startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    const queueAdmin = w.client(queue.url);
    const cacheAdmin = w.client(cache.url);
    const daemon = w.startDaemon({
      // REDIS_URL points at nothing: any use of it instead of the two others would stall the test.
      env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_QUEUE_URL: queue.url, REDIS_CACHE_URL: cache.url },
    });
    await waitFresh(w, cacheAdmin, 0, 15_000);
    await daemon.waitForLog((l) => l.msg === 'refresh done' && l.job === 'topics', 5_000);

    const queueKeys = (await scanAll(queueAdmin)).sort();
    const cacheKeys = (await scanAll(cacheAdmin)).sort();
    const p = w.prefix;
    expect(queueKeys).toEqual(expect.arrayContaining([`{${p}}:bull:cache-warmer:repeat`, `{${p}}:status:topics`, `{${p}}:status:projects-list`]));
    expect(queueKeys.filter((k) => !k.startsWith(`{${p}}:bull:`) && !k.startsWith(`{${p}}:status:`))).toEqual([]);
    expect(cacheKeys).toEqual(expect.arrayContaining([`${p}:projects:list:ongoing`, ...w.projectIds().map((id) => w.topicsKey(id))]));
    expect(cacheKeys.filter((k) => !k.startsWith(`${p}:project:`) && !k.startsWith(`${p}:projects:`))).toEqual([]);
    expect(logsWith(daemon.logs, EVICTION_WARNING)).toEqual([]);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });

  it('warns at start when the queue Redis evicts keys (maxmemory-policy allkeys-lru), and keeps warming', async () => {
    const w = await world();
    const queue = await w.startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    const cache = await w.startRedis();
    const cacheAdmin = w.client(cache.url);
    const daemon = w.startDaemon({ env: { REDIS_URL: queue.url, REDIS_QUEUE_URL: queue.url, REDIS_CACHE_URL: cache.url } });
    const warning = await daemon.waitForLog((l) => String(l.msg).includes(EVICTION_WARNING), 10_000);
    expect(warning.policy).toBe('allkeys-lru');
    expect(warning.level).toBe(40);
    await waitFresh(w, cacheAdmin, 0, 15_000);
    expect(daemon.child.exitCode).toBeNull();
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });
});

describe('a Redis that wants credentials or TLS', () => {
  it('connects with a password (requirepass) and never writes the password anywhere', async () => {
    const w = await world();
    const password = newPassword();
    const port = await freePort();
    const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    await w.startRedisWith(['--port', String(port), '--requirepass', password], { url });
    const admin = w.client(url);
    const daemon = w.startDaemon({ env: { REDIS_URL: url } });
    await waitFresh(w, admin, 0, 15_000);

    const started = await daemon.waitForLog((l) => l.msg === 'starting cache-warmer daemon', 1_000);
    expect(started.redisQueue).toBe(`redis://:***@127.0.0.1:${port}`);
    await expectNoSecret(w, daemon, admin, password);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });

  it('reports a wrong password without writing it, and keeps running', async () => {
    const w = await world();
    const password = newPassword();
    const wrong = newPassword();
    const port = await freePort();
    await w.startRedisWith(['--port', String(port), '--requirepass', password], { url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}` });
    const daemon = w.startDaemon({ env: { REDIS_URL: `redis://:${encodeURIComponent(wrong)}@127.0.0.1:${port}` } });
    const refused = await daemon.waitForLog((l) => JSON.stringify(l.err ?? '').includes('WRONGPASS'), 10_000);
    expect(refused.level).toBeGreaterThanOrEqual(40);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(daemon.child.exitCode).toBeNull();
    for (const secret of [password, wrong, encodeURIComponent(wrong), w.token]) expect(daemon.output()).not.toContain(secret);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });

  it('connects as an ACL user (the default user disabled) and never writes the password anywhere', async () => {
    const w = await world();
    const password = newPassword();
    const port = await freePort();
    const url = `redis://warmer:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    await w.startRedisWith(['--port', String(port), '--user', 'warmer', 'on', `>${password}`, '~*', '&*', '+@all', '--user', 'default', 'off'], { url });
    const admin = w.client(url);
    const daemon = w.startDaemon({ env: { REDIS_URL: url } });
    await waitFresh(w, admin, 0, 15_000);

    const clients = String(await admin.client('LIST')).split('\n').filter((l) => / name=cache-warmer:/.test(l));
    expect(clients.length).toBeGreaterThan(0);
    expect(clients.every((l) => / user=warmer /.test(l))).toBe(true);
    await expectNoSecret(w, daemon, admin, password);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });

  it('connects over TLS only (rediss://, REDIS_CA_FILE) with a password, and never writes the password anywhere', async () => {
    const w = await world();
    const tlsFiles = makeTlsFiles(w.dir);
    const password = newPassword();
    const port = await freePort();
    const url = `rediss://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    const tls = { ca: readFileSync(tlsFiles.ca, 'utf8') };
    await w.startRedisWith(
      [
        '--port', '0', // no plain-text port: whatever connects speaks TLS
        '--tls-port', String(port),
        '--tls-cert-file', tlsFiles.cert,
        '--tls-key-file', tlsFiles.key,
        '--tls-ca-cert-file', tlsFiles.ca,
        '--tls-auth-clients', 'no',
        '--requirepass', password,
      ],
      { url, options: { tls } },
    );
    const admin = w.client(url, { tls });
    const daemon = w.startDaemon({ env: { REDIS_URL: url, REDIS_CA_FILE: tlsFiles.ca } });
    await waitFresh(w, admin, 0, 15_000);

    const started = await daemon.waitForLog((l) => l.msg === 'starting cache-warmer daemon', 1_000);
    expect(started.redisCache).toBe(`rediss://:***@127.0.0.1:${port}`);
    await expectNoSecret(w, daemon, admin, password);
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });
});
