import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startSimulator, type Simulator } from '../support/simulator/server.js';
import { dropPrefix, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { eventually, spawnCli, type DaemonProcess } from '../support/daemon.js';

const TOKEN = 'E2E0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';

describe('the daemon, as a child process', () => {
  let sim: Simulator;
  let redis: Redis;
  let prefix: string;
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(async () => {
    sim = await startSimulator({ projects: 8, token: TOKEN });
    redis = testRedis();
    prefix = newPrefix();
    dir = mkdtempSync(join(tmpdir(), 'cw-e2e-'));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
    await sim.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(jobs: Record<string, unknown>): DaemonProcess {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ jobs }));
    const daemon = spawnCli(['run', '--config', file], {
      REDIS_URL: redisUrl(),
      CACHE_PREFIX: prefix,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      UPSTREAM_RETRIES: '0',
      LOG_LEVEL: 'info',
    });
    daemons.push(daemon);
    return daemon;
  }

  const ongoing = () => sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);
  const readTopics = async (id: string) => {
    const text = await redis.get(`${prefix}:project:${id}:topics`);
    return text === null ? undefined : (JSON.parse(text) as { cached_at: string; project_id: string });
  };

  it('warms keys, refreshes them every tick, serves them stale up to maxStale while the upstream fails, and warms them again', async () => {
    const daemon = start({
      topics: { every: '2s', ttl: '3s', emptyTtl: '2s', maxStale: '6s' },
      'project-stats': { enabled: false },
      leaderboards: { enabled: false },
      'daily-stats': { enabled: false },
    });
    const id = ongoing()[0]!.checkin_id;

    const first = await eventually(() => readTopics(id), 15_000, 'the first topics key');
    expect(first.project_id).toBe(id);
    const listed = await redis.get(`${prefix}:projects:list:ongoing`);
    expect(JSON.parse(listed!).projects.map((p: { project_id: string }) => p.project_id)).toContain(id);

    const refreshed = await eventually(
      async () => {
        const v = await readTopics(id);
        return v && v.cached_at !== first.cached_at ? v : undefined;
      },
      8_000,
      'a refresh with a newer cached_at',
    );
    expect(Date.parse(refreshed.cached_at)).toBeGreaterThan(Date.parse(first.cached_at));
    const ttl = await redis.ttl(`${prefix}:project:${id}:topics`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3);

    // The upstream fails: the key is served stale (same bytes, TTL extended)
    // until its data is maxStale old, then it expires.
    const staleText = await redis.get(`${prefix}:project:${id}:topics`);
    sim.fault({ kind: 'status', status: 503, route: 'topics' });
    const faultAt = Date.now();
    await eventually(async () => ((await readTopics(id)) === undefined ? true : undefined), 15_000, 'the key to expire');
    const servedFor = Date.now() - faultAt;
    const staleAge = Date.now() - Date.parse(JSON.parse(staleText!).cached_at);
    // Without serving stale it would be gone within its 3 s TTL of the last write.
    expect(staleAge).toBeGreaterThanOrEqual(5_000);
    expect(servedFor).toBeLessThan(12_000);
    const status = await redis.hgetall(`{${prefix}}:status:topics`);
    expect(Number(status.failures)).toBeGreaterThan(0);
    expect(status.lastError).toContain('HTTP 503');

    // The upstream recovers: the key is warm again within a cadence or two.
    sim.clearFaults();
    await eventually(() => readTopics(id), 8_000, 'the key to be warm again');

    expect(await daemon.stop('SIGTERM')).toBe(0);
    expect(daemon.logs.some((l) => l.msg === 'stopped')).toBe(true);
    expect(daemon.output()).not.toContain(TOKEN);
  });

  it('runs each tick once when two daemons start together', async () => {
    const jobs = {
      topics: { every: '1s', ttl: '30s' },
      'project-stats': { enabled: false },
      leaderboards: { enabled: false },
      'daily-stats': { enabled: false },
    };
    const a = start(jobs);
    const b = start(jobs);
    await Promise.all([a, b].map((d) => d.waitForLog((l) => l.msg === 'schedulers reconciled')));
    // Let the first ticks pass, then count over a window.
    await eventually(async () => (Number(await redis.hget(`{${prefix}}:status:topics`, 'runs')) >= 2 ? true : undefined), 10_000, 'two topics runs');
    const runsBefore = Number(await redis.hget(`{${prefix}}:status:topics`, 'successes'));
    sim.resetRequests();
    const windowMs = 6_000;
    await new Promise((r) => setTimeout(r, windowMs));
    const runsAfter = Number(await redis.hget(`{${prefix}}:status:topics`, 'successes'));
    const requests = sim.count('topics');
    const runs = runsAfter - runsBefore;

    // One run per tick: about windowMs / 1 s runs, not twice as many.
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(runs).toBeLessThanOrEqual(windowMs / 1000 + 2);
    // Each run asks for every ongoing project once: no request is duplicated.
    const n = ongoing().length;
    expect(Math.abs(requests - runs * n)).toBeLessThanOrEqual(n);
    expect(Number(await redis.hget(`{${prefix}}:status:projects-list`, 'runs'))).toBe(1);

    const schedulers = await redis.zrange(`{${prefix}}:bull:cache-warmer:repeat`, 0, -1);
    expect(schedulers.sort()).toEqual(['projects-list', 'topics']);

    expect(await a.stop('SIGTERM')).toBe(0);
    expect(await b.stop('SIGTERM')).toBe(0);
  });
});
