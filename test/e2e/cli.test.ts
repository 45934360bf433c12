import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startSimulator, type Simulator } from '../support/simulator/server.js';
import { dropPrefix, keysUnder, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { spawnCli } from '../support/daemon.js';
import { freePort } from '../support/redis-server.js';

const TOKEN = 'CLI0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';

async function cli(args: string[], env: Record<string, string>) {
  const run = spawnCli(args, env);
  const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  if (code === 'timeout') await run.stop('SIGKILL');
  return { code, output: run.output(), logs: run.logs };
}

describe('the cache-warmer command line', () => {
  let sim: Simulator;
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    sim = await startSimulator({ projects: 10, token: TOKEN });
    redis = testRedis();
    prefix = newPrefix();
    dir = mkdtempSync(join(tmpdir(), 'cw-cli-'));
    env = {
      REDIS_URL: redisUrl(),
      CACHE_PREFIX: prefix,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      UPSTREAM_RETRIES: '0',
    };
  });

  afterEach(async () => {
    await sim.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--once all warms every key family, records status, and exits 0', async () => {
    const result = await cli(['--once', 'all'], env);
    expect(result.code).toBe(0);
    const keys = (await keysUnder(redis, prefix)).filter((k) => !k.startsWith(`{${prefix}}:`));
    const families = new Set(keys.map((k) => k.slice(prefix.length + 1).replace(/\d+/g, 'N')));
    expect([...families].filter((f) => !f.startsWith('status') && !f.startsWith('bull')).sort()).toEqual([
      'project:N:daily_stats',
      'project:N:info',
      'project:N:leaderboard:accumulated',
      'project:N:leaderboard:continuous',
      'project:N:stats',
      'project:N:topics',
      'projects:list:closed',
      'projects:list:ongoing',
      'projects:list:over',
    ]);
    const done = result.logs.find((l) => l.msg === 'once finished');
    expect(done).toMatchObject({ jobs: 5, failed: [] });
    expect(result.output).not.toContain(TOKEN);

    const status = await cli(['status', '--json'], { REDIS_URL: env.REDIS_URL!, CACHE_PREFIX: prefix });
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.output) as { jobs: Array<Record<string, unknown>>; feasibility: { projects: number; fits: boolean; warnings: string[] } };
    const ongoing = sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).length;
    expect(doc.feasibility).toMatchObject({ projects: ongoing, fits: true, warnings: [] });
    expect(doc.jobs.map((j) => j.name).sort()).toEqual(['daily-stats', 'leaderboards', 'project-stats', 'projects-list', 'topics']);
    for (const job of doc.jobs) {
      expect(job).toMatchObject({ runs: 1, successes: 1, failures: 0, successRate: 1, lastError: null });
      for (const field of ['schedule', 'lastSuccessAt', 'lastFailureAt', 'lastDurationMs', 'nextRunAt']) expect(job).toHaveProperty(field);
    }
    expect(doc.jobs.find((j) => j.name === 'daily-stats')!.schedule).toBe('every 15m + cron 5 0 0 * * * (Asia/Shanghai)');
    // No daemon registered schedulers: only the cron part has a next run.
    expect(doc.jobs.find((j) => j.name === 'daily-stats')!.nextRunAt).toMatch(/T16:00:05\.000Z$/);

    const table = await cli(['status'], { REDIS_URL: env.REDIS_URL!, CACHE_PREFIX: prefix });
    expect(table.code).toBe(0);
    expect(table.output).toMatch(/^JOB\s+STATE\s+SCHEDULE\s+RUNS/);
    expect(table.output).toContain('every 5m');
    expect(table.output).toContain(`upstream load: `);

    // A limit far too low for the cadences is called out, with a cadence that would fit.
    const tight = await cli(['status'], { REDIS_URL: env.REDIS_URL!, CACHE_PREFIX: prefix, UPSTREAM_RATE_LIMIT: '0.01' });
    expect(tight.output).toMatch(/warning: topics needs [\d.]+ req\/s for \d+ projects every 5m; limit is 0\.01 req\/s/);
  });

  it('--once exits 1 when a refresh fails and records the failure without the token', async () => {
    sim.fault({ kind: 'status', status: 500, route: 'topics' });
    const result = await cli(['--once', 'projects-list,topics'], env);
    expect(result.code).toBe(1);
    const status = await redis.hgetall(`{${prefix}}:status:topics`);
    expect(status.failures).toBe('1');
    expect(status.lastError).toContain('HTTP 500');
    expect(JSON.stringify(status)).not.toContain(TOKEN);
    expect(await redis.hget(`{${prefix}}:status:projects-list`, 'successes')).toBe('1');
  });

  it('an unknown job name is a usage error that lists the valid names (exit 2)', async () => {
    const result = await cli(['--once', 'topics,bogus'], env);
    expect(result.code).toBe(2);
    expect(result.output).toContain('unknown job "bogus" (valid: daily-stats, leaderboards, project-stats, projects-list, topics, or all)');
  });

  it('invalid configuration stops before Redis with one line naming the setting (exit 3)', async () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ jobs: { topics: { every: 'banana' } } }));
    // Nothing listens on this port: touching Redis would hang or fail differently.
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const result = await cli(['--config', file], { ...env, REDIS_URL: deadRedis });
    expect(result.code).toBe(3);
    expect(result.output.trim().split('\n')).toEqual(['cache-warmer: config.json: jobs.topics.every "banana" is not a duration (e.g. 500ms, 30s, 5m, 2h)']);

    const noToken = await cli(['--once', 'all'], { ...env, UPSTREAM_TOKEN: '', REDIS_URL: deadRedis });
    expect(noToken.code).toBe(3);
    expect(noToken.output.trim()).toBe('cache-warmer: upstream.token: missing (set UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE)');

    const badUrl = await cli(['--once', 'all'], { ...env, UPSTREAM_BASE_URL: 'not a url', REDIS_URL: deadRedis });
    expect(badUrl.code).toBe(3);
    expect(badUrl.output.trim()).toBe('cache-warmer: UPSTREAM_BASE_URL: upstream.baseUrl "not a url" is not an http(s) URL');
  });
});
