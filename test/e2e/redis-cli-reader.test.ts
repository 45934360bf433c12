import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { spawnCli } from '../support/daemon.js';
import { dropPrefix, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { startSimulator, type Simulator } from '../support/simulator/server.js';

const run = promisify(execFile);
const TOKEN = 'RCLI89E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The real redis-cli, as the README shows it: `redis-cli -u URL --raw COMMAND…`; its stdout. */
async function redisCli(...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-u', redisUrl(), '--raw', ...args], { timeout: 10_000, env: { PATH: process.env.PATH ?? '' } });
  return stdout;
}

describe('reading the warmed keys with redis-cli', () => {
  let sim: Simulator;
  let redis: Redis;
  let prefix: string;

  beforeEach(async () => {
    sim = await startSimulator({ projects: 10, token: TOKEN });
    redis = testRedis();
    prefix = newPrefix();
  });

  afterEach(async () => {
    await sim.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('after --once all, GET gives the contract’s JSON with cached_at and ids as quoted strings, TTL the time left', async () => {
    const before = Date.now();
    const warm = spawnCli(['--once', 'all'], {
      REDIS_URL: redisUrl(),
      CACHE_PREFIX: prefix,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      UPSTREAM_RETRIES: '0',
    });
    const code = await Promise.race([warm.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000))]);
    if (code === 'timeout') await warm.stop('SIGKILL');
    expect(code, warm.output().slice(-2000)).toBe(0);
    const after = Date.now();

    const ongoing = sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);

    // The projects list, as an app would fetch it first.
    const listText = await redisCli('GET', `${prefix}:projects:list:ongoing`);
    const list = JSON.parse(listText) as { scope: string; projects: Array<{ project_id: unknown }>; cached_at: string };
    expect(list.scope).toBe('ongoing');
    expect(list.cached_at).toMatch(ISO_UTC);
    const age = Date.now() - Date.parse(list.cached_at);
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThanOrEqual(Date.now() - before);
    expect(Date.parse(list.cached_at)).toBeLessThanOrEqual(after);
    expect(list.projects.map((p) => p.project_id).sort()).toEqual(ongoing.map((p) => p.checkin_id).sort());
    // In the raw text every id is quoted: any JSON parser keeps its digits.
    expect(listText.match(/"project_id":"\d+"/g)?.length).toBe(ongoing.length);
    expect(listText).not.toMatch(/"project_id":\d/);

    // Every ongoing project's topics key, found with SCAN (never KEYS).
    const scanned = (await redisCli('--scan', '--pattern', `${prefix}:project:*:topics`)).split('\n').filter(Boolean).sort();
    expect(scanned).toEqual(ongoing.map((p) => `${prefix}:project:${p.checkin_id}:topics`).sort());

    // A topic id above 2^53, exact in the output and after JSON parsing.
    const project = ongoing.find((p) => p.topics.length > 0 && p.rankings.continuous.length > 0)!;
    const newest = [...project.topics].sort((a, b) => (a.create_time < b.create_time ? 1 : -1))[0]!;
    expect(BigInt(newest.topic_id) > 2n ** 53n).toBe(true);
    const topicsKey = `${prefix}:project:${project.checkin_id}:topics`;
    const topicsText = await redisCli('GET', topicsKey);
    expect(topicsText).toContain(`"topic_id":"${newest.topic_id}"`);
    const topics = JSON.parse(topicsText) as { project_id: string; topics: Array<{ topic_id: string }>; cached_at: string };
    expect(topics.project_id).toBe(project.checkin_id);
    expect(topics.topics[0]!.topic_id).toBe(newest.topic_id);
    expect(topics.cached_at).toMatch(ISO_UTC);

    // TTL: seconds left, within the job's TTL (topics 10 min, lists 2 h).
    const ttl = Number((await redisCli('TTL', topicsKey)).trim());
    expect(ttl).toBeGreaterThan(600 - 60);
    expect(ttl).toBeLessThanOrEqual(600);
    const listTtl = Number((await redisCli('TTL', `${prefix}:projects:list:ongoing`)).trim());
    expect(listTtl).toBeGreaterThan(7200 - 60);
    expect(listTtl).toBeLessThanOrEqual(7200);

    // A leaderboard: user ids quoted too.
    const boardText = await redisCli('GET', `${prefix}:project:${project.checkin_id}:leaderboard:continuous`);
    expect(boardText).toMatch(/"user_id":"\d+"/);
    expect(boardText).not.toMatch(/"user_id":\d/);
    expect(JSON.parse(boardText).cached_at).toMatch(ISO_UTC);

    // A missing key: an empty line with --raw, and TTL -2.
    expect(await redisCli('GET', `${prefix}:project:1:topics`)).toBe('\n');
    expect((await redisCli('TTL', `${prefix}:project:1:topics`)).trim()).toBe('-2');
  });
});
