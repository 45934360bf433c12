import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startSimulator, type Simulator } from '../support/simulator/server.js';
import { dropPrefix, keysUnder, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { eventually, spawnCli, type DaemonProcess } from '../support/daemon.js';

const TOKEN = 'FAN0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';

describe('a big run spread over the fleet as batches', () => {
  let sim: Simulator;
  let redis: Redis;
  let prefix: string;
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(async () => {
    sim = await startSimulator({ projects: 120, token: TOKEN, latencyMs: 20 });
    redis = testRedis();
    prefix = newPrefix();
    dir = mkdtempSync(join(tmpdir(), 'cw-fan-'));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
    await sim.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(): DaemonProcess {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        jobs: { topics: { every: '1h' }, 'project-stats': { enabled: false }, leaderboards: { enabled: false }, 'daily-stats': { enabled: false } },
      }),
    );
    const daemon = spawnCli(['run', '--config', file], {
      REDIS_URL: redisUrl(),
      CACHE_PREFIX: prefix,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      UPSTREAM_RETRIES: '0',
      WORKER_BATCH_SIZE: '10',
      LOG_LEVEL: 'debug',
    });
    daemons.push(daemon);
    return daemon;
  }

  it('shares the batches between two replicas, retries a failed project alone, and records one run', async () => {
    const ongoing = sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);
    expect(ongoing.length).toBeGreaterThan(40);
    // One project fails once: its retry, alone, succeeds.
    sim.fault({ route: 'topics', projectId: ongoing[5]!.checkin_id, kind: 'status', status: 503, times: 1 });
    const [a, b] = [start(), start()];

    const status = await eventually(
      async () => {
        const h = await redis.hgetall(`{${prefix}}:status:topics`);
        return h.runs ? h : undefined;
      },
      30_000,
      'the topics run to be recorded',
    );
    expect(status).toMatchObject({ runs: '1', successes: '1', itemsOk: String(ongoing.length), itemsFailed: '0' });
    expect(status.failures).toBeUndefined();
    const topicsKeys = (await keysUnder(redis, prefix)).filter((k) => /:project:\d+:topics$/.test(k));
    expect(topicsKeys).toHaveLength(ongoing.length);

    const spread = [...a!.logs, ...b!.logs].filter((l) => l.msg === 'refresh spread over the fleet as batches');
    expect(spread).toHaveLength(1);
    expect(spread[0]).toMatchObject({ units: ongoing.length, batches: Math.ceil(ongoing.length / 10) });
    const batchesOf = (d: DaemonProcess) => d.logs.filter((l) => l.msg === 'batch done');
    // Both replicas took batches; one batch retried the failed project alone.
    expect(batchesOf(a!).length).toBeGreaterThan(0);
    expect(batchesOf(b!).length).toBeGreaterThan(0);
    const retries = [...batchesOf(a!), ...batchesOf(b!)].filter((l) => l.attempt === 2);
    expect(retries).toEqual([expect.objectContaining({ units: 1, itemsOk: 1 })]);
    // Every project was asked once, and the failed one twice.
    expect(sim.count('topics')).toBe(ongoing.length + 1);

    expect(await a!.stop('SIGTERM')).toBe(0);
    expect(await b!.stop('SIGTERM')).toBe(0);
  });
});
