import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readStatus } from '../../src/cli/commands/status.js';
import { renderStatusPage } from '../../src/http/page.js';
import { harnessPerTest } from '../support/harness.js';
import { startRedisServer } from '../support/redis-server.js';
import { NEVER, onlyJobs, startHttpDaemon, until } from './http-support.js';

const create = harnessPerTest({ projects: 3 });
const ADMIN = 'http-admin-9c41b7e2d05f4a8e';

/** The status document without what moves with the clock. */
function timeless(doc: { jobs: Array<Record<string, unknown>> }) {
  return { ...doc, jobs: doc.jobs.map(({ dataAgeSeconds: _age, ...job }) => job) };
}

describe('the HTTP server of the daemon', () => {
  it('is live and ready once started, and answers 404 to unknown paths and 405 with Allow to other methods', async () => {
    const h = await create();
    const d = await startHttpDaemon(h);
    expect(h.logs.some((line) => line.includes('"msg":"http listening"') && line.includes(`"port":${d.daemon.httpAddress()!.port}`))).toBe(true);

    const health = await d.get('/healthz');
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await health.json()).toMatchObject({ ok: true, status: 'ok' });
    const ready = await d.get('/readyz');
    expect([ready.status, await ready.json()]).toEqual([200, { ok: true, status: 'ready' }]);

    for (const path of ['/nope', '/status/', '/healthz/x', '/refresh', '/refresh/', '/refresh/a/b', '/metrics.txt']) {
      const res = await d.get(path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ error: 'not found' });
    }
    for (const [method, path, allow] of [
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/readyz', 'GET, HEAD'],
      ['PUT', '/metrics', 'GET, HEAD'],
      ['POST', '/status', 'GET, HEAD'],
      ['POST', '/', 'GET, HEAD'],
      ['GET', '/refresh/topics', 'POST'],
    ] as const) {
      const res = await d.get(path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
    }
    const head = await d.get('/healthz', { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('serves the status page as HTML with a CSP that allows exactly its inline script and style, by hash', async () => {
    const h = await create();
    const d = await startHttpDaemon(h);
    const res = await d.get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toBe(renderStatusPage());
    const csp = res.headers.get('content-security-policy')!;
    const directives = Object.fromEntries(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
    const inline = (tag: string) => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => hash(m[1]!));
    expect(inline('script').length).toBeGreaterThan(0);
    expect(directives['script-src']).toEqual(inline('script'));
    expect(directives['style-src']).toEqual(inline('style'));
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves at /status the document of `status --json`', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, { jobs: onlyJobs({ 'projects-list': NEVER, topics: NEVER, leaderboards: { enabled: false } }) });
    await h.run('projects-list');
    await h.run('topics');
    await h.runtime.run.status.record({ job: 'topics', ok: false, at: Date.now(), durationMs: 5, keysWritten: 0, bytesWritten: 0, itemsOk: 0, itemsFailed: 3, trigger: 'schedule', error: 'ERR_UPSTREAM_HTTP: 503' });

    const res = await d.get('/status');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const served = (await res.json()) as { jobs: Array<Record<string, unknown>> };
    const cli = JSON.parse(JSON.stringify(await readStatus(h.jobs, d.config))) as { jobs: Array<Record<string, unknown>> };
    expect(timeless(served)).toEqual(timeless(cli));
    const topics = served.jobs.find((j) => j.name === 'topics')!;
    expect(topics).toMatchObject({ runs: 2, successes: 1, failures: 1, successRate1h: 0.5, schedule: 'cron 0 0 0 1 1 * (Asia/Shanghai)', state: 'failing' });
    expect(topics.dataAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(topics.history).toHaveLength(24);
  });

  it('answers 403 to POST /refresh when no admin token is configured, whatever is sent', async () => {
    const h = await create();
    const d = await startHttpDaemon(h);
    for (const token of [undefined, 'anything-at-all-0000', '']) {
      const res = await d.post('/refresh/projects-list', token);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toContain('set http.adminToken');
    }
    expect((await h.runtime.run.status.read(['projects-list']))[0]!.runs).toBe(0);
  });

  it('refreshes a job on POST /refresh/{job} with the admin token: 401 without it, 404 for an unknown job, 409 for a disabled one, 202 and a manual run with it', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, { env: { HTTP_ADMIN_TOKEN: ADMIN }, jobs: onlyJobs({ 'projects-list': NEVER }) });

    for (const token of [undefined, `${ADMIN}x`, ADMIN.slice(0, -1), 'Basic']) {
      const res = await d.post('/refresh/projects-list', token);
      expect(res.status, String(token)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cache-warmer"');
    }
    const basic = await d.get('/refresh/projects-list', { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    // Authentication comes first: an unauthenticated caller learns nothing about job names.
    expect((await d.post('/refresh/no-such-job')).status).toBe(401);
    expect((await d.post('/refresh/no-such-job', ADMIN)).status).toBe(404);
    expect((await d.post('/refresh/topics', ADMIN)).status).toBe(409);
    expect((await h.runtime.run.status.read(['projects-list']))[0]!.runs).toBe(0);

    const res = await d.post('/refresh/projects-list', ADMIN);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { job: string; jobId: string; deduplicated: boolean };
    expect(body).toMatchObject({ job: 'projects-list', deduplicated: false });
    expect(body.jobId).toMatch(/^manual-projects-list-/);
    const status = await until('the manual run to be recorded', async () => {
      const [s] = await h.runtime.run.status.read(['projects-list']);
      return s!.runs > 0 ? s : undefined;
    });
    expect(status).toMatchObject({ runs: 1, successes: 1, lastTrigger: 'manual', state: 'ok' });
    expect(await h.json(h.key('projects', 'list', 'ongoing'))).toBeDefined();
  });

  it('runs a double POST once: the second request is deduplicated while the first waits or runs', async () => {
    const h = await create({ simulator: { latencyMs: 300 } });
    const d = await startHttpDaemon(h, { env: { HTTP_ADMIN_TOKEN: ADMIN } });
    const [first, second] = await Promise.all([d.post('/refresh/projects-list', ADMIN), d.post('/refresh/projects-list', ADMIN)]);
    const answers = [(await first.json()) as { jobId: string; deduplicated: boolean }, (await second.json()) as { jobId: string; deduplicated: boolean }];
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(answers.map((a) => a.deduplicated).sort()).toEqual([false, true]);
    expect(answers[0]!.jobId).toBe(answers[1]!.jobId);

    await until('the manual run to be recorded', async () => ((await h.runtime.run.status.read(['projects-list']))[0]!.runs > 0 ? true : undefined));
    // Long enough for a second run (each takes ≥ 300 ms against this simulator) to have been recorded too.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await h.runtime.run.status.read(['projects-list']))[0]).toMatchObject({ runs: 1, lastTrigger: 'manual' });

    // Once it is done, the next request queues a new run.
    const again = await d.post('/refresh/projects-list', ADMIN);
    expect((await again.json()) as { deduplicated: boolean }).toMatchObject({ deduplicated: false });
    await until('the second manual run', async () => ((await h.runtime.run.status.read(['projects-list']))[0]!.runs === 2 ? true : undefined));
  });

  it('never writes the admin token to a log line, whatever is sent', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, { env: { HTTP_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'trace' } });
    await d.post('/refresh/projects-list', `${ADMIN}-wrong`);
    await d.post('/refresh/projects-list', ADMIN);
    await d.get(`/status?token=${ADMIN}`);
    await d.get(`/${ADMIN}`);
    await until('the manual run', async () => ((await h.runtime.run.status.read(['projects-list']))[0]!.runs > 0 ? true : undefined));
    await d.daemon.stop();
    const logs = h.logs.join('');
    expect(logs).toContain('manual refresh requested over HTTP');
    expect(logs).not.toContain(ADMIN);
    expect(logs).not.toContain(ADMIN.slice(0, 12));
  });

  it('rejects a refresh body over 1 KiB and closes connections whose body it does not read', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, { env: { HTTP_ADMIN_TOKEN: ADMIN } });
    const big = await d.get('/refresh/projects-list', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: 'x'.repeat(2_000) });
    expect(big.status).toBe(413);
    const small = await d.get('/refresh/projects-list', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: '{}' });
    expect(small.status).toBe(202);
    const unread = await d.get('/healthz', { method: 'POST', body: 'x'.repeat(10_000) });
    expect(unread.status).toBe(405);
    expect(unread.headers.get('connection')).toBe('close');
  });

  it('is closed by stop(): the port refuses connections afterwards', async () => {
    const h = await create();
    const d = await startHttpDaemon(h);
    expect((await d.get('/healthz')).status).toBe(200);
    await d.daemon.stop();
    await expect(d.get('/healthz')).rejects.toThrow();
  });

  it('serves nothing when http.enabled is false', async () => {
    const h = await create();
    const config = h.reconfigure({ jobs: onlyJobs({ 'projects-list': NEVER }) }, { HTTP_ENABLED: 'false', HTTP_PORT: '0' });
    const { createDaemon } = await import('../../src/daemon.js');
    const daemon = createDaemon(h.jobs, config, h.logger);
    h.track({ close: () => daemon.stop() });
    await daemon.start();
    expect(daemon.httpAddress()).toBeUndefined();
    expect(h.logs.join('')).not.toContain('http listening');
  });
});

describe('readiness through a Redis outage', () => {
  it('/readyz answers 503 with the reason while Redis is down and 200 once it is back; /healthz stays 200; /metrics and /status answer at once', async () => {
    const h = await create();
    let redis = await startRedisServer();
    h.track({ close: () => redis.stop() });
    const d = await startHttpDaemon(h, { env: { REDIS_URL: redis.url, WATCHDOG_INTERVAL: '500ms' } });
    expect((await d.get('/readyz')).status).toBe(200);

    await redis.stop();
    const down = await until('readyz to fail', async () => {
      const res = await d.get('/readyz');
      return res.status === 503 ? ((await res.json()) as { status: string; reason: string }) : undefined;
    });
    expect(down.status).toBe('redis unreachable');
    expect(down.reason).toMatch(/queue connection is (reconnecting|connecting|close)/);
    expect((await d.get('/healthz')).status).toBe(200);

    const started = Date.now();
    const metrics = await d.get('/metrics');
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).not.toMatch(/^cache_warmer_queue_jobs\{/m);
    const status = await d.get('/status');
    expect(status.status).toBe(503);
    expect(((await status.json()) as { error: string }).error).toContain('redis unreachable');
    expect(Date.now() - started).toBeLessThan(3_000);

    redis = await startRedisServer([], redis.port);
    await until('readyz to pass again', async () => ((await d.get('/readyz')).status === 200 ? true : undefined), 15_000, 100);
  });
});
