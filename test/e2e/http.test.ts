import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startSimulator, type Simulator } from '../support/simulator/server.js';
import { dropPrefix, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { eventually, spawnCli, type DaemonProcess } from '../support/daemon.js';

const TOKEN = 'HTTP0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
const ADMIN = 'e2e-admin-3b9f0c6d2a7e41f8';

describe('the daemon’s HTTP server, as a child process', () => {
  let sim: Simulator;
  let redis: Redis;
  let prefix: string;
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeEach(async () => {
    sim = await startSimulator({ projects: 4, token: TOKEN });
    redis = testRedis();
    prefix = newPrefix();
    dir = mkdtempSync(join(tmpdir(), 'cw-e2e-http-'));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
    await sim.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ REDIS_URL: redisUrl(), CACHE_PREFIX: prefix });

  async function cli(args: string[], extra: Record<string, string>) {
    const run = spawnCli(args, extra);
    daemons.push(run);
    const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    return { code, output: run.output() };
  }

  it('listens on the port it logs, serves /status as `status --json` does, refreshes on an authorised POST, and closes on SIGTERM', async () => {
    const adminFile = join(dir, 'admin_token');
    writeFileSync(adminFile, `${ADMIN}\n`);
    const config = join(dir, 'config.json');
    // Cron cadences that never come during the test: runs happen only when asked.
    const never = { cron: '0 0 0 1 1 *' };
    writeFileSync(config, JSON.stringify({ jobs: { 'projects-list': never, topics: never, 'project-stats': { enabled: false }, leaderboards: { enabled: false }, 'daily-stats': { enabled: false } } }));
    const daemon = spawnCli(['run', '--config', config], {
      ...env(),
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      HTTP_PORT: '0',
      HTTP_ADMIN_TOKEN_FILE: adminFile,
      LOG_LEVEL: 'debug',
    });
    daemons.push(daemon);
    const listening = await daemon.waitForLog((l) => l.msg === 'http listening');
    expect(listening).toMatchObject({ host: '127.0.0.1', port: expect.any(Number) });
    const base = `http://127.0.0.1:${listening.port as number}`;
    const get = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
    await eventually(async () => ((await get('/readyz')).status === 200 ? true : undefined), 15_000, 'readyz 200');
    expect((await get('/healthz')).status).toBe(200);

    const refresh = (job: string, token = ADMIN) => get(`/refresh/${job}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect((await refresh('projects-list', 'not-the-admin-token')).status).toBe(401);
    for (const job of ['projects-list', 'topics']) {
      const res = await refresh(job);
      expect(res.status).toBe(202);
      await eventually(async () => (Number(await redis.hget(`{${prefix}}:status:${job}`, 'runs')) >= 1 ? true : undefined), 15_000, `${job} to run`);
    }
    expect(await redis.hget(`{${prefix}}:status:topics`, 'lastTrigger')).toBe('manual');

    const served = (await (await get('/status')).json()) as { jobs: Array<Record<string, unknown>> };
    // The same configuration: the schedule is part of the document.
    const printed = await cli(['status', '--json', '--config', config], env());
    expect(printed.code).toBe(0);
    const doc = JSON.parse(printed.output) as { jobs: Array<Record<string, unknown>> };
    const timeless = (d: { jobs: Array<Record<string, unknown>> }) => ({ ...d, jobs: d.jobs.map(({ dataAgeSeconds: _a, ...j }) => j) });
    expect(timeless(served)).toEqual(timeless(doc));
    expect(served.jobs.find((j) => j.name === 'topics')).toMatchObject({ runs: 1, successRate1h: 1, lastTrigger: 'manual' });

    const table = await cli(['status', '--config', config], env());
    expect(table.output).toMatch(/^JOB\s+STATE\s+SCHEDULE\s+RUNS\s+OK\s+FAIL\s+RATE 1H\s+RATE 24H\s+RATE ALL\s+LAST SUCCESS\s+LAST FAILURE\s+DATA AGE/);
    expect(table.output).toMatch(/\ntopics\s+ok\s+cron 0 0 0 1 1 \* \(Asia\/Shanghai\)\s+1\s+1\s+0\s+100\.0%\s+100\.0%\s+100\.0%\s+\d+s ago\s+-\s+\d+s\s/);

    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/^cache_warmer_refreshes_total\{job="topics",result="ok"\} 1$/m);

    expect(await daemon.stop('SIGTERM')).toBe(0);
    await expect(get('/healthz')).rejects.toThrow();
    expect(daemon.output()).not.toContain(ADMIN);
    expect(daemon.output()).not.toContain(TOKEN);
  });

  it('keeps warming when its port is taken, and says so', async () => {
    const blocker = await import('node:net').then(({ createServer }) => createServer());
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ jobs: { 'projects-list': { every: '1h' }, topics: { enabled: false }, 'project-stats': { enabled: false }, leaderboards: { enabled: false }, 'daily-stats': { enabled: false } } }));
      const daemon = spawnCli(['run', '--config', config], {
        ...env(),
        UPSTREAM_BASE_URL: sim.url,
        UPSTREAM_TOKEN: TOKEN,
        UPSTREAM_GROUP_ID: sim.options.groupId,
        HTTP_PORT: String(port),
      });
      daemons.push(daemon);
      const failed = await daemon.waitForLog((l) => l.msg?.startsWith('http server could not listen') === true);
      expect(failed).toMatchObject({ level: 50, port, host: '127.0.0.1', err: { code: 'EADDRINUSE' } });
      await eventually(async () => (Number(await redis.hget(`{${prefix}}:status:projects-list`, 'runs')) >= 1 ? true : undefined), 15_000, 'a run');
      expect(await daemon.stop('SIGTERM')).toBe(0);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
