/**
 * The Redis Cluster and Sentinel helpers (test/support/redis-cluster.ts,
 * redis-sentinel.ts) against real ioredis clients: what the topology tests of
 * issue 6 will build on. Each describe owns its processes and stops them in
 * afterAll, whether the tests passed or not. The measured start-up and
 * failover times are printed (console.log) for CI logs.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { scanAll } from '../support/redis.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { startRedisSentinel, type RedisSentinel } from '../support/redis-sentinel.js';

/** Start-up: process spawns, `redis-cli --cluster create` (about 1 s of its own) and the settle wait. */
const START_TIMEOUT_MS = 45_000;
/** Failover, client recovery and (cluster) the old master rejoining, all bounded inside. */
const FAILOVER_TEST_TIMEOUT_MS = 60_000;
/** Covers one failed Sentinel election (retried after 2 × failover-timeout = 10 s) on top of a ~2.5 s failover. */
const FAILOVER_TIMEOUT_MS = 20_000;
/** After the failover is visible on the servers, the client must write within this. */
const CLIENT_RECOVERY_MS = 10_000;

function report(what: string, ms: number): void {
  console.log(`[topology-support] ${what}: ${Math.round(ms)} ms`);
}

/** Retries `attempt` until it resolves (each attempt bounded by the client's commandTimeout), or fails after `timeoutMs`. */
async function untilOk<T>(attempt: () => Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${what} did not succeed within ${timeoutMs} ms: ${(lastError as Error)?.message}`, { cause: lastError });
}

describe('options', () => {
  it('startRedisCluster rejects unknown option keys and too few masters before starting anything', async () => {
    await expect(startRedisCluster({ master: 3 } as never)).rejects.toThrow('startRedisCluster: unknown option "master"');
    await expect(startRedisCluster({ masters: 2 })).rejects.toThrow('startRedisCluster: masters 2 is not an integer from 3 to 10');
  });

  it('startRedisSentinel rejects unknown option keys and a bad master name before starting anything', async () => {
    await expect(startRedisSentinel({ name: 'x' } as never)).rejects.toThrow('startRedisSentinel: unknown option "name"');
    await expect(startRedisSentinel({ masterName: 'a b' })).rejects.toThrow('startRedisSentinel: masterName "a b" must be');
  });
});

describe('startRedisCluster', () => {
  let cluster: RedisCluster | undefined;
  const clients: Cluster[] = [];

  beforeAll(async () => {
    const started = performance.now();
    cluster = await startRedisCluster();
    report('cluster start (6 nodes, create, settled)', performance.now() - started);
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.stop();
  }, 30_000);

  function newClusterClient(c: RedisCluster): Cluster {
    const client = new Cluster(c.startupNodes, {
      // Slot map refreshed quickly after a failover; connection-level retries stay bounded.
      clusterRetryStrategy: (times) => (times > 50 ? null : 100),
      retryDelayOnFailover: 200,
      redisOptions: { commandTimeout: 2_000, maxRetriesPerRequest: 1 },
    });
    // The test kills nodes: errors from their connections are expected and asserted through commands.
    client.on('error', () => undefined);
    client.on('node error', () => undefined);
    clients.push(client);
    return client;
  }

  it('[slow] has 3 masters with one replica each, all slots covered', async () => {
    const c = cluster!;
    expect(c.nodes).toHaveLength(6);
    expect(c.nodes.filter((n) => n.role === 'master')).toHaveLength(3);
    expect(new Set(c.nodes.flatMap((n) => [n.port, n.busPort])).size).toBe(12);
    const owners = await c.slotOwners();
    expect(owners.reduce((sum, range) => sum + range.to - range.from + 1, 0)).toBe(16_384);
  });

  it('[slow] a Cluster client sets and gets keys across slots, and a SCAN of every master sees them all', async () => {
    const client = newClusterClient(cluster!);
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:${i}`);
    for (const key of keys) await client.set(key, `v-${key}`, 'EX', 600);
    for (const key of keys) expect(await client.get(key)).toBe(`v-${key}`);

    const masters = client.nodes('master');
    expect(masters).toHaveLength(3);
    const perMaster = await Promise.all(masters.map((node) => scanAll(node, `${prefix}:*`)));
    // 60 keys land on every master (~1/3 each); together the scans see each key exactly once.
    expect(perMaster.every((found) => found.length > 0)).toBe(true);
    expect(perMaster.flat().sort()).toEqual([...keys].sort());
  });

  it('[slow] killing a master: its replica takes over, the client writes to its slots again, the old master rejoins as a replica', async () => {
    const c = cluster!;
    const client = newClusterClient(c);
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:${i}`);
    for (const key of keys) await client.set(key, `v-${key}`, 'EX', 600);
    await c.waitForReplication();

    const victim = c.nodes.find((n) => n.role === 'master')!.port;
    const owners = await c.slotOwners();
    const slotOf = async (key: string) => Number(await client.cluster('KEYSLOT', key));
    const victimKeys: string[] = [];
    for (const key of keys) {
      const slot = await slotOf(key);
      if (owners.some((r) => r.port === victim && slot >= r.from && slot <= r.to)) victimKeys.push(key);
    }
    expect(victimKeys.length).toBeGreaterThan(0);
    const probeKey = victimKeys[0]!;

    await c.killNode(victim);
    const killed = performance.now();
    // The client keeps trying from the moment of the kill: its recovery time is measured from there.
    const recovered = untilOk(() => client.set(probeKey, 'after-failover'), FAILOVER_TIMEOUT_MS + CLIENT_RECOVERY_MS, `SET ${probeKey} on the dead master's slots`).then(
      () => performance.now() - killed,
    );
    const failover = await c.waitForFailover(victim, FAILOVER_TIMEOUT_MS);
    report(`cluster failover (kill → replica ${failover.newMasterPort} serves the slots, cluster_state:ok everywhere)`, failover.sinceKillMs);
    const clientMs = await recovered;
    report('cluster client recovery (kill → first SET on the dead master slots)', clientMs);

    expect(failover.newMasterPort).not.toBe(victim);
    expect(c.nodes.find((n) => n.port === failover.newMasterPort)!.role).toBe('master');
    expect(await client.get(probeKey)).toBe('after-failover');
    // Replicated before the kill: nothing written before it is lost.
    for (const key of victimKeys.slice(1)) expect(await client.get(key)).toBe(`v-${key}`);

    const restarted = performance.now();
    await c.restartNode(victim);
    report('cluster old master restart (→ replica, settled)', performance.now() - restarted);
    const old = c.nodes.find((n) => n.port === victim)!;
    expect(old.running).toBe(true);
    expect(old.role).toBe('replica');
  }, FAILOVER_TEST_TIMEOUT_MS);
});

describe('startRedisSentinel', () => {
  let sentinel: RedisSentinel | undefined;
  const clients: Redis[] = [];

  beforeAll(async () => {
    const started = performance.now();
    // With a password: the auth-pass path is the one that goes wrong silently.
    sentinel = await startRedisSentinel({ password: `pw-${randomBytes(6).toString('hex')}` });
    report('sentinel start (master, replica, 3 sentinels, all known)', performance.now() - started);
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await sentinel?.stop();
  }, 30_000);

  it('[slow] a Sentinel client writes, its master is killed, it writes again on the promoted replica', async () => {
    const s = sentinel!;
    const client = new Redis({
      sentinels: s.sentinels,
      name: s.masterName,
      password: s.password,
      commandTimeout: 2_000,
      maxRetriesPerRequest: 1,
      // Reconnect promptly once the sentinels name the new master.
      retryStrategy: () => 100,
      sentinelRetryStrategy: (times) => (times > 100 ? null : 100),
    });
    client.on('error', () => undefined); // the master is killed on purpose: asserted through commands
    clients.push(client);
    const prefix = `t${randomBytes(5).toString('hex')}`;

    await client.set(`${prefix}:before`, '1', 'EX', 600);
    expect(await client.get(`${prefix}:before`)).toBe('1');
    // Connected through the sentinels, to the master.
    expect(await client.info('server')).toContain(`tcp_port:${s.master.port}`);

    await s.killMaster();
    const killed = performance.now();
    const recovered = untilOk(() => client.set(`${prefix}:after`, '2', 'EX', 600), FAILOVER_TIMEOUT_MS + CLIENT_RECOVERY_MS, 'SET through the sentinel client').then(
      () => performance.now() - killed,
    );
    const failover = await s.waitForFailover(FAILOVER_TIMEOUT_MS);
    report(`sentinel failover (kill → majority names ${failover.port}, ROLE master)`, failover.sinceKillMs);
    const clientMs = await recovered;
    report('sentinel client recovery (kill → first SET on the new master)', clientMs);

    expect(failover.port).toBe(s.replica.port);
    const direct = new Redis({ host: '127.0.0.1', port: failover.port, password: s.password, maxRetriesPerRequest: 1 });
    clients.push(direct);
    expect(await direct.get(`${prefix}:after`)).toBe('2');
    expect(await client.get(`${prefix}:before`)).toBe('1');
  }, FAILOVER_TEST_TIMEOUT_MS);
});
