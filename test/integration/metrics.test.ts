import { describe, expect, it } from 'vitest';
import { harnessPerTest } from '../support/harness.js';
import type { RouteName } from '../support/simulator/server.js';
import { NEVER, onlyJobs, parseMetrics, startHttpDaemon, until, type HttpDaemon } from './http-support.js';
import type { Harness } from '../support/harness.js';

const create = harnessPerTest({ projects: 4 });
const ADMIN = 'metrics-admin-5e0c2a9f71b3';

/** The upstream-api.md template of each simulator route. */
const TEMPLATES: Partial<Record<RouteName, string>> = {
  projects: '/v2/groups/{gid}/checkins',
  project: '/v2/groups/{gid}/checkins/{cid}',
  topics: '/v2/groups/{gid}/checkins/{cid}/topics',
};

async function refreshAndWait(h: Harness, d: HttpDaemon, job: string, runs: number): Promise<void> {
  expect((await d.post(`/refresh/${job}`, ADMIN)).status).toBe(202);
  await until(`${job} to have ${runs} recorded run(s)`, async () => ((await h.runtime.run.status.read([job]))[0]!.runs >= runs ? true : undefined));
}

async function scrape(d: HttpDaemon) {
  const res = await d.get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  const samples = parseMetrics(text);
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return { text, samples, value };
}

describe('GET /metrics', () => {
  it('after real refreshes, reports each metric with its labels and values that match the status store and the upstream', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, { env: { HTTP_ADMIN_TOKEN: ADMIN }, jobs: onlyJobs({ 'projects-list': NEVER, topics: NEVER, leaderboards: NEVER }) });
    await refreshAndWait(h, d, 'projects-list', 1);
    // One 500 on the topics route: retried (UPSTREAM_RETRIES 2), so it counts as one more attempt.
    h.sim.fault({ kind: 'status', status: 500, route: 'topics', times: 1 });
    await refreshAndWait(h, d, 'topics', 1);
    const [list, topics, leaderboards] = await h.runtime.run.status.read(['projects-list', 'topics', 'leaderboards']);
    expect([list!.state, topics!.state]).toEqual(['ok', 'ok']);

    const { text, samples, value } = await scrape(d);
    for (const [name, type] of [
      ['cache_warmer_refreshes_total', 'counter'],
      ['cache_warmer_refresh_duration_seconds', 'histogram'],
      ['cache_warmer_keys_written_total', 'counter'],
      ['cache_warmer_upstream_requests_total', 'counter'],
      ['cache_warmer_upstream_token_expires_in_seconds', 'gauge'],
      ['cache_warmer_last_success_timestamp_seconds', 'gauge'],
      ['cache_warmer_data_age_seconds', 'gauge'],
      ['cache_warmer_queue_jobs', 'gauge'],
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
    ]) {
      expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
    }

    // Refreshes by job and result; every configured job has its series from the start.
    expect(value('cache_warmer_refreshes_total', { job: 'projects-list', result: 'ok' })[0]!.value).toBe(1);
    expect(value('cache_warmer_refreshes_total', { job: 'topics', result: 'ok' })[0]!.value).toBe(1);
    expect(value('cache_warmer_refreshes_total', { job: 'topics', result: 'failed' })[0]!.value).toBe(0);
    expect(value('cache_warmer_refreshes_total', { job: 'daily-stats', result: 'ok' })[0]!.value).toBe(0);

    // Durations: one observation per run, summing to what the status store recorded.
    expect(value('cache_warmer_refresh_duration_seconds_count', { job: 'topics' })[0]!.value).toBe(1);
    expect(value('cache_warmer_refresh_duration_seconds_sum', { job: 'topics' })[0]!.value).toBeCloseTo(topics!.lastDurationMs! / 1000, 2);
    const buckets = value('cache_warmer_refresh_duration_seconds_bucket', { job: 'topics' });
    expect(buckets.find((b) => b.labels.le === '+Inf')!.value).toBe(1);

    // Keys written equal the status store's.
    expect(value('cache_warmer_keys_written_total', { job: 'projects-list' })[0]!.value).toBe(list!.lastKeysWritten);
    expect(value('cache_warmer_keys_written_total', { job: 'topics' })[0]!.value).toBe(topics!.lastKeysWritten);
    expect(topics!.lastKeysWritten).toBeGreaterThan(0);

    // Upstream requests: by route template (no id in a label) and status; they add up to what the simulator saw.
    const requests = value('cache_warmer_upstream_requests_total');
    expect(requests.every((s) => !/\d{3,}/.test(s.labels.route!))).toBe(true);
    expect(requests.reduce((sum, s) => sum + s.value, 0)).toBe(h.sim.count());
    for (const route of ['projects', 'topics'] as const) {
      const served = h.sim.requests.filter((r) => r.route === route);
      const ok = served.filter((r) => r.status === 200).length;
      expect(value('cache_warmer_upstream_requests_total', { route: TEMPLATES[route]!, status: '200' })[0]!.value, route).toBe(ok);
    }
    expect(value('cache_warmer_upstream_requests_total', { route: TEMPLATES.topics!, status: '500' })[0]!.value).toBe(1);

    // x-expire-in: the simulator sends 30 days; the gauge counts down from the last answer.
    const expires = value('cache_warmer_upstream_token_expires_in_seconds')[0]!.value;
    expect(expires).toBeLessThanOrEqual(h.sim.options.expireInSeconds);
    expect(expires).toBeGreaterThan(h.sim.options.expireInSeconds - 60);

    // Shared state read at scrape time: last success, data age, queue counts.
    expect(value('cache_warmer_last_success_timestamp_seconds', { job: 'topics' })[0]!.value).toBe(Date.parse(topics!.lastSuccessAt!) / 1000);
    const age = value('cache_warmer_data_age_seconds', { job: 'topics' })[0]!.value;
    expect(age).toBeGreaterThanOrEqual(topics!.dataAgeSeconds!);
    expect(age).toBeLessThan(60);
    expect(leaderboards!.runs).toBe(0);
    expect(value('cache_warmer_data_age_seconds', { job: 'leaderboards' })).toEqual([]);
    expect(value('cache_warmer_last_success_timestamp_seconds', { job: 'leaderboards' })).toEqual([]);
    const states = value('cache_warmer_queue_jobs').map((s) => s.labels.state).sort();
    expect(states).toEqual(['active', 'delayed', 'failed', 'prioritized', 'waiting']);
    expect(value('cache_warmer_queue_jobs').every((s) => Number.isInteger(s.value) && s.value >= 0)).toBe(true);

    expect(value('process_cpu_seconds_total')[0]!.value).toBeGreaterThan(0);
    expect(samples.length).toBeGreaterThan(50);
  });

  it('reports the token lifetime as NaN before any answer, and counts a throttled refresh apart from failures', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, { env: { HTTP_ADMIN_TOKEN: ADMIN }, jobs: onlyJobs({ 'projects-list': NEVER }) });
    expect(Number.isNaN((await scrape(d)).value('cache_warmer_upstream_token_expires_in_seconds')[0]!.value)).toBe(true);

    // Anti-crawl throttling (envelope code 1059) once: the queue backs off 2 s and the job runs again.
    h.sim.fault({ kind: 'envelope', code: 1059, route: 'projects', times: 1 });
    await refreshAndWait(h, d, 'projects-list', 1);
    const { value } = await scrape(d);
    expect(value('cache_warmer_refreshes_total', { job: 'projects-list', result: 'throttled' })[0]!.value).toBe(1);
    expect(value('cache_warmer_refreshes_total', { job: 'projects-list', result: 'ok' })[0]!.value).toBe(1);
    expect(value('cache_warmer_refreshes_total', { job: 'projects-list', result: 'failed' })[0]!.value).toBe(0);
    expect(value('cache_warmer_upstream_requests_total', { route: TEMPLATES.projects!, status: '200' })[0]!.value).toBe(h.sim.count('projects'));
  });

  it('counts a failed refresh and the attempts that got no response, by what ended them', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, {
      env: { HTTP_ADMIN_TOKEN: ADMIN, UPSTREAM_TIMEOUT: '200ms', UPSTREAM_RETRIES: '1' },
      jobs: onlyJobs({ 'projects-list': NEVER }),
    });
    h.sim.fault({ kind: 'reset', route: 'projects', times: 1 });
    h.sim.fault({ kind: 'hang', route: 'projects' });
    await refreshAndWait(h, d, 'projects-list', 1);
    h.sim.clearFaults();
    const { value } = await scrape(d);
    expect(value('cache_warmer_refreshes_total', { job: 'projects-list', result: 'failed' })[0]!.value).toBe(1);
    expect(value('cache_warmer_refresh_duration_seconds_count', { job: 'projects-list' })[0]!.value).toBe(1);
    expect(value('cache_warmer_upstream_requests_total', { route: TEMPLATES.projects!, status: 'reset' })[0]!.value).toBe(1);
    expect(value('cache_warmer_upstream_requests_total', { route: TEMPLATES.projects!, status: 'timeout' })[0]!.value).toBeGreaterThanOrEqual(1);
  });
});
