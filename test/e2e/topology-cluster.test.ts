/**
 * The daemon on a Redis Cluster (issue 6), as users run it: three replicas of
 * the built CLI with REDIS_CLUSTER_NODES, against a private cluster of 3
 * masters with one replica each (test/support/redis-cluster.ts) and the
 * upstream simulator with 200 projects. The fleet warms every contract key;
 * the keys spread over all masters while the queue and the status store each
 * keep to one slot; the admin CLI sees every master; and when the master
 * holding the queue is SIGKILLed mid-run, its replica takes over, the keys are
 * fresh again and no schedule is lost. The recovery time is printed
 * (`[topology] …`).
 *
 * The read-only tests depend only on the warm state beforeAll reaches; the
 * failover test, which kills a node, comes last. Every process is stopped by
 * PID in afterAll, whether the tests passed or not.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { internalKeys } from '../../src/cache/keys.js';
import { eventually, spawnCli, type DaemonProcess } from '../support/daemon.js';
import { newPrefix, scanAll } from '../support/redis.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { freePort } from '../support/redis-server.js';
import { startSimulator, type Simulator } from '../support/simulator/server.js';
import {
  checkContract,
  contractKeys,
  EXPECTED_SCHEDULERS,
  FAST_CADENCES,
  JOB_NAMES,
  LONGEST_EVERY_MS,
  ongoingIds,
  queueKey,
  queuePrefixFor,
  REPLICA_ENV,
  report,
  runCli,
  schedulerIds,
  stopAll,
  tempDir,
  timeline,
  TOPICS_EVERY_MS,
  topicsKeys,
  waitAllFresh,
  waitForStatus,
  watchdogFailuresSince,
  type JobRuns,
} from '../support/topology.js';

const PROJECTS = 200;
const REPLICAS = 3;
const TOKEN = 'CLUS0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
/** requirepass of every node: the daemons take it from REDIS_URL, whose host and port point at nothing. */
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

/** Cluster start (6 nodes, create, settle), the simulator, three daemons and the first warm of every job. */
const SETUP_TIMEOUT_MS = 120_000;
/** The first warm of 200 projects by the three replicas. */
const WARM_TIMEOUT_MS = 60_000;
/** The brief's bound on kill → every topics key rewritten after the kill. */
const RECOVERY_BOUND_MS = 30_000;
const FAILOVER_TIMEOUT_MS = 20_000;
/** Every job runs again after the recovery: its longest cadence twice, plus a run. */
const RUNS_CONTINUE_MS = 2 * LONGEST_EVERY_MS + 5_000;

interface KeysDoc {
  prefix: string;
  listed: number;
  matched: number;
  truncated: boolean;
  keys: Array<{ key: string; job: string | null; cachedAt: string | null }>;
}

/** The test's own cluster client: quick slot refresh after a failover, bounded commands. */
function clusterClient(c: RedisCluster): Cluster {
  const client = new Cluster(c.startupNodes, {
    redisOptions: { password: c.password, commandTimeout: 2_000, maxRetriesPerRequest: 1 },
    clusterRetryStrategy: () => 100,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
  });
  // A master is killed on purpose: errors are asserted through commands.
  client.on('error', () => undefined);
  client.on('node error', () => undefined);
  return client;
}

const masterPorts = (client: Cluster) => client.nodes('master').map((n) => n.options.port!);

describe('three daemon replicas on a Redis Cluster (3 masters, 1 replica each)', () => {
  let cluster: RedisCluster | undefined;
  let sim: Simulator | undefined;
  let client: Cluster | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  const replicas: DaemonProcess[] = [];
  const commands: DaemonProcess[] = [];
  const prefix = newPrefix();
  let env: Record<string, string> = {};
  let bullPrefix = '';
  let ids: string[] = [];

  beforeAll(async () => {
    const t0 = performance.now();
    cluster = await startRedisCluster({ password: PASSWORD });
    const clusterMs = performance.now() - t0;
    sim = await startSimulator({ projects: PROJECTS, token: TOKEN });
    ids = ongoingIds(sim);
    env = {
      // Credentials from the role's URL; its host and port must be ignored (nothing listens there).
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${await freePort()}`,
      REDIS_CLUSTER_NODES: cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(','),
      CACHE_PREFIX: prefix,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      ...REPLICA_ENV,
    };
    bullPrefix = queuePrefixFor(env);
    client = clusterClient(cluster);
    dir = tempDir();
    const config = dir.write('config.json', FAST_CADENCES);

    const t1 = performance.now();
    for (let i = 0; i < REPLICAS; i += 1) replicas.push(spawnCli(['run', '--config', config], env));
    await Promise.all(replicas.map((r) => r.waitForLog((l) => l.msg === 'schedulers reconciled', 30_000)));
    const expected = contractKeys(prefix, ids);
    let missing = expected.length;
    await eventually(
      async () => {
        const exists = await Promise.all(expected.map((key) => client!.exists(key).catch(() => 0)));
        missing = exists.filter((n) => n === 0).length;
        return missing === 0 ? true : undefined;
      },
      WARM_TIMEOUT_MS,
      `every contract key of ${ids.length} ongoing projects (${expected.length} keys; ${missing} missing at the last look)`,
      500,
    );
    report('cluster warm', { 'cluster start': clusterMs, 'first warm by 3 replicas': performance.now() - t1, projects: `${ids.length} ongoing of ${PROJECTS}`, keys: `${expected.length}` });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    // By PID, processes first (they hold connections to the nodes), then the servers.
    await stopAll([...replicas, ...commands]);
    client?.disconnect();
    await sim?.close();
    await cluster?.stop();
    dir?.remove();
  }, 60_000);

  it('[slow] warms every contract key of the 200 projects: whole JSON with cached_at, ids as decimal strings', async () => {
    const check = await checkContract(client!.nodes('master'), prefix);
    expect(check.problems).toEqual([]);
    const found = new Set(check.perServer.flat());
    const expected = contractKeys(prefix, ids);
    expect(expected.filter((key) => !found.has(key))).toEqual([]);
    // Nothing else under the prefix but contract keys (checkContract names any stray key as a problem).
    expect(found.size).toBeGreaterThanOrEqual(expected.length);
  });

  it('[slow] spreads the contract keys over all three masters, each key on the master of its slot only', async () => {
    const masters = client!.nodes('master');
    expect(masters).toHaveLength(3);
    const { perServer } = await checkContract(masters, prefix);
    const counts = perServer.map((keys) => keys.length);
    const total = counts.reduce((a, b) => a + b, 0);
    report('contract keys per master', Object.fromEntries(masterPorts(client!).map((port, i) => [`127.0.0.1:${port}`, `${counts[i]}`])));
    // ~1/3 each with CRC16 over 850 keys; a master with under 1/5 would mean the keys share slots.
    for (const count of counts) expect(count).toBeGreaterThan(total / 5);
    // No key on two masters: the scans are disjoint and together every key once.
    expect(new Set(perServer.flat()).size).toBe(total);
  });

  it('[slow] keeps the BullMQ queue in one slot and the status store in one slot, on one master', async () => {
    const c = client!;
    const masters = c.nodes('master');
    const slotOf = async (key: string) => Number(await c.cluster('KEYSLOT', key));

    // BullMQ: every key under its prefix, wherever it is.
    const bullPerMaster = await Promise.all(masters.map((node) => scanAll(node, `${bullPrefix}:*`)));
    const bullKeys = bullPerMaster.flat();
    expect(bullKeys.length, `keys under ${bullPrefix}`).toBeGreaterThan(0);
    expect(bullPerMaster.filter((keys) => keys.length > 0), 'masters holding BullMQ keys').toHaveLength(1);
    const bullSample = [queueKey(bullPrefix, 'meta'), queueKey(bullPrefix, 'repeat'), ...bullKeys.slice(0, 40)];
    const bullSlots = new Set(await Promise.all(bullSample.map(slotOf)));
    expect([...bullSlots], `slots of ${bullSample.length} BullMQ keys, e.g. ${bullSample.slice(0, 3).join(', ')}`).toHaveLength(1);

    // The status store: each job's hash and buckets and the jobs set, as the daemon names them.
    const statusKeys = [internalKeys.statusJobs(prefix), ...JOB_NAMES.flatMap((job) => [internalKeys.status(prefix, job), internalKeys.statusBuckets(prefix, job)])];
    const statusSlots = new Set(await Promise.all(statusKeys.map(slotOf)));
    expect([...statusSlots], `slots of ${statusKeys.join(', ')}`).toHaveLength(1);
    const exists = await Promise.all(statusKeys.map((key) => c.exists(key)));
    expect(statusKeys.filter((_, i) => exists[i] === 0), 'status keys missing after a warm').toEqual([]);
    // The other internal keys keep to one slot too (names only: the rate limiter is off here).
    const otherSlots = new Set(await Promise.all([internalKeys.upstreamRateLimit(prefix), internalKeys.goneProjects(prefix)].map(slotOf)));
    expect(otherSlots.size).toBe(1);
    report('internal key slots', { bull: [...bullSlots].join(','), status: [...statusSlots].join(','), other: [...otherSlots].join(','), 'bull keys': `${bullKeys.length}` });
  });

  it('[slow] `status --json` and `keys --json` work against the cluster, and keys lists the keys of every master', async () => {
    const status = await runCli(['status', '--json'], env, 30_000, commands);
    expect(status.code, status.output).toBe(0);
    const doc = JSON.parse(status.output) as { jobs: Array<{ name: string; runs: number; state: string; nextRunAt: string | null }> };
    expect(doc.jobs.map((j) => j.name).sort()).toEqual([...JOB_NAMES]);
    for (const job of doc.jobs) {
      expect(job.runs, `${job.name} runs`).toBeGreaterThan(0);
      expect(job.state, `${job.name} state`).toBe('ok');
    }
    // Read from the BullMQ schedulers through the cluster.
    expect(doc.jobs.find((j) => j.name === 'topics')!.nextRunAt).not.toBeNull();

    const masters = client!.nodes('master');
    const { perServer } = await checkContract(masters, prefix);
    const all = perServer.flat().sort();
    const keys = await runCli(['keys', '--json', '--limit', '100000'], env, 30_000, commands);
    expect(keys.code, keys.output).toBe(0);
    const listing = JSON.parse(keys.output) as KeysDoc;
    expect(listing).toMatchObject({ prefix, listed: all.length, matched: all.length, truncated: false });
    const listed = new Set(listing.keys.map((k) => k.key));
    for (const [i, onMaster] of perServer.entries()) {
      expect(onMaster.filter((key) => !listed.has(key)), `keys of master ${masterPorts(client!)[i]} missing from the listing`).toEqual([]);
    }
    expect(listing.keys.every((k) => k.job !== null && k.cachedAt !== null)).toBe(true);

    // A limit below the total still counts every master's keys.
    const limited = await runCli(['keys', '--json', '--limit', '7'], env, 30_000, commands);
    expect(limited.code, limited.output).toBe(0);
    expect(JSON.parse(limited.output) as KeysDoc).toMatchObject({ listed: 7, matched: all.length, truncated: true });
  });

  it(`[slow] a master SIGKILLed mid-run: its replica takes over, every topics key is fresh again within ${RECOVERY_BOUND_MS / 1000} s, every job keeps running with one scheduler each`, async () => {
    const c = cluster!;
    const cc = client!;
    expect(await schedulerIds(cc, bullPrefix)).toEqual(EXPECTED_SCHEDULERS);

    // The master holding the queue and the status store: the hardest one to lose (1/3 of the contract keys too).
    const queueSlot = Number(await cc.cluster('KEYSLOT', queueKey(bullPrefix, 'meta')));
    const owners = await c.slotOwners();
    const victim = owners.find((r) => queueSlot >= r.from && queueSlot <= r.to)!.port;
    const keys = topicsKeys(prefix, ids);

    // Mid-run: a job (a run or a batch of one) is being worked on.
    await eventually(async () => ((await cc.llen(queueKey(bullPrefix, 'active'))) > 0 ? true : undefined), 10_000, 'a job being worked on', 20);
    const killedAt = Date.now();
    await c.killNode(victim, 'SIGKILL');
    // Keys are polled from the kill on, so the recovery is measured from there.
    const fresh = waitAllFresh(cc, keys, killedAt, RECOVERY_BOUND_MS + 15_000);
    fresh.catch(() => undefined); // awaited below; a failover timeout must not leave it unhandled
    const failover = await c.waitForFailover(victim, FAILOVER_TIMEOUT_MS);
    const recoveredMs = (await fresh) - killedAt;
    report('cluster master SIGKILL (the queue master) → recovery', {
      failover: failover.sinceKillMs,
      'every topics key fresh (cached_at after the kill)': recoveredMs,
      keys: `${keys.length}`,
      'topics cadence': TOPICS_EVERY_MS,
      'issue bound for reference (failover + cadence)': failover.sinceKillMs + TOPICS_EVERY_MS,
    });
    expect(failover.newMasterPort).not.toBe(victim);
    expect(recoveredMs, `the replicas after the kill:\n${timeline(replicas, killedAt)}`).toBeLessThanOrEqual(RECOVERY_BOUND_MS);

    // No schedule lost: every job runs (and succeeds) again after the recovery.
    const after = await waitForStatus(cc, prefix, () => true, 10_000, 'the status store after the failover');
    const later = await waitForStatus(
      cc,
      prefix,
      (job, now: JobRuns) => now.runs > after[job].runs && now.lastSuccessAt > killedAt,
      RUNS_CONTINUE_MS,
      'a successful run of every job after the recovery',
    );
    report('cluster runs after the failover', Object.fromEntries(JOB_NAMES.map((job) => [job, `runs ${after[job].runs}→${later[job].runs}, failures ${later[job].failures}`])));
    expect(await schedulerIds(cc, bullPrefix)).toEqual(EXPECTED_SCHEDULERS);

    // The fleet survived: no replica exited, and the contract still holds on the new masters.
    expect(replicas.map((r) => r.child.exitCode)).toEqual([null, null, null]);
    // Every replica reconnected, not just one doing all the work: no watchdog failure over the last 3 s (it checks every second).
    expect(watchdogFailuresSince(replicas, Date.now() - 3_000), `watchdog failures per replica; after the kill:\n${timeline(replicas, killedAt)}`).toEqual([0, 0, 0]);
    // The test's client learns the new slot map (ioredis refreshes it on MOVED or every 5 s).
    await eventually(
      async () => (masterPorts(cc).includes(failover.newMasterPort) && !masterPorts(cc).includes(victim) ? true : undefined),
      10_000,
      `the client to see ${failover.newMasterPort} as a master instead of ${victim}`,
      200,
    );
    const check = await checkContract(cc.nodes('master'), prefix);
    expect(check.problems).toEqual([]);
    expect(check.perServer.flat().length).toBeGreaterThanOrEqual(contractKeys(prefix, ids).length);
  }, 90_000);
});

describe('cluster and sentinel configuration errors', () => {
  /** Everything `run` needs but Redis: the config must fail before anything is contacted. */
  const base = { UPSTREAM_TOKEN: TOKEN, UPSTREAM_GROUP_ID: '15555411412112', UPSTREAM_BASE_URL: 'http://127.0.0.1:9' };
  const processes: DaemonProcess[] = [];
  afterAll(() => stopAll(processes));

  /** Exit 3 with one line naming every one of `names`. */
  async function expectConfigError(extra: Record<string, string>, names: string[], value?: string) {
    const result = await runCli(['run'], { ...base, ...extra }, 15_000, processes);
    expect(result.code, result.output).toBe(3);
    const lines = result.output.trim().split('\n');
    expect(lines, result.output).toHaveLength(1);
    expect(lines[0]).toMatch(/^cache-warmer: /);
    for (const name of names) expect(lines[0]).toContain(name);
    if (value) expect(lines[0]).toContain(value);
  }

  it('rejects a REDIS_CLUSTER_NODES entry that is not host:port with exit 3 and one line naming the setting and the entry', async () => {
    await expectConfigError({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:notaport' }, ['REDIS_CLUSTER_NODES'], 'notaport');
  });

  it('rejects REDIS_CLUSTER_NODES and REDIS_SENTINELS for the same role with exit 3, naming both', async () => {
    const sentinel = { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'mymaster' };
    await expectConfigError({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', ...sentinel }, ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS']);
    // Defaults are "both": the queue role is claimed by both here.
    await expectConfigError({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_CLUSTER_FOR: 'queue', ...sentinel }, ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS']);
  });

  it('accepts a cluster for the queue and sentinels for the cache (different roles): `status` then fails on the unreachable cluster with exit 1, not 3', async () => {
    const result = await runCli(
      ['status'],
      {
        ...base,
        REDIS_CLUSTER_NODES: `127.0.0.1:${await freePort()}`,
        REDIS_CLUSTER_FOR: 'queue',
        REDIS_SENTINELS: `127.0.0.1:${await freePort()}`,
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_SENTINEL_FOR: 'cache',
      },
      20_000,
      processes,
    );
    expect(result.code, result.output).toBe(1);
    expect(result.output).not.toMatch(/REDIS_CLUSTER_NODES|REDIS_SENTINELS/);
  });
});
