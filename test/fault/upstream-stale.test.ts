/**
 * Fault suite, upstream half: serving stale. After a failed refresh, the
 * failed units' keys keep their bytes and their TTL is extended to
 * min(ttl, maxStale - age), never beyond and never shortened; an empty answer
 * is not extended; a value older than maxStale is left to expire.
 */
import { describe, expect, it } from 'vitest';
import { harnessPerTest, nextMillisecond, waitFor, type Harness } from '../support/harness.js';
import { cachedAt, expectFailureRecorded, expectKept, expectNoSecret, setTtls, snapshot, type KeySnapshot } from '../support/fault-kit.js';

// No retries: a 503 fails its unit at once.
const create = harnessPerTest({ projects: 8, env: { UPSTREAM_RETRIES: '0' } });

const SHORT_MS = 2_000;
const isEmpty = (raw: string) => /":\[\]/.test(raw);

/** Warms `jobs`, then gives their keys (`only`) a short TTL so that an extension shows. */
async function warmShort(h: Harness, jobs: string[], only: (key: string) => boolean): Promise<Map<string, KeySnapshot>> {
  for (const job of ['projects-list', ...jobs.filter((j) => j !== 'projects-list')]) expect((await h.run(job)).ok, job).toBe(true);
  await setTtls(h, SHORT_MS, only);
  await nextMillisecond();
  return snapshot(h, only);
}

/** Each key's TTL after the failed refresh against the rule: min(ttl, maxStale - age), or not extended. */
async function expectServedStale(h: Harness, before: Map<string, KeySnapshot>, ttlMs: number, maxStaleMs: number): Promise<void> {
  let extended = 0;
  for (const [key, was] of before) {
    const now = Date.now();
    const pttl = await h.redis.pttl(key);
    const age = now - Date.parse(JSON.parse(was.raw).cached_at);
    const keep = Math.min(ttlMs, maxStaleMs - age);
    if (isEmpty(was.raw) || keep <= SHORT_MS) {
      expect(pttl, `TTL of ${key} (not extended)`).toBeLessThanOrEqual(SHORT_MS);
      continue;
    }
    extended += 1;
    // extendStale takes `now` before reading the values, so the expiry may pass
    // cached_at + maxStale by that round trip: a few milliseconds.
    expect(pttl, `TTL of ${key}`).toBeLessThanOrEqual(keep + 25);
    expect(pttl, `TTL of ${key}`).toBeGreaterThan(keep - 1_000);
  }
  expect(extended, 'keys served stale').toBeGreaterThan(0);
}

describe('serving stale after a failed refresh', () => {
  it('extends a failed key’s TTL to maxStale minus its age when that is shorter than the TTL, and a recovered refresh makes it fresh again', async () => {
    const h = await create({ file: { jobs: { topics: { maxStale: '30s' } } } });
    const only = (key: string) => key.endsWith(':topics');
    const before = await warmShort(h, ['topics'], only);
    h.sim.fault({ route: 'topics', kind: 'status', status: 503 });

    const result = await h.run('topics');

    expect(result.outcome).toBe('failed');
    expect(result.staleExtended).toBe([...before.values()].filter((v) => !isEmpty(v.raw)).length);
    await expectKept(h, before);
    await expectServedStale(h, before, 600_000, 30_000);
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_HTTP', 'HTTP 503');

    // The fault ends: the next refresh rewrites every key with its full TTL.
    h.sim.clearFaults();
    const recoveredAt = Date.now();
    expect((await h.run('topics')).ok).toBe(true);
    for (const [key, was] of before) {
      expect(await cachedAt(h, key)).toBeGreaterThanOrEqual(recoveredAt);
      expect(await h.redis.pttl(key)).toBeGreaterThan((isEmpty(was.raw) ? 300_000 : 600_000) - 5_000);
    }
    await expectNoSecret(h);
  });

  it('extends to the full TTL and never beyond when maxStale (24 h by default) is longer', async () => {
    const h = await create();
    const only = (key: string) => key.includes(':leaderboard:');
    const before = await warmShort(h, ['leaderboards'], only);
    h.sim.fault({ route: 'ranking', kind: 'status', status: 503 });

    await h.run('leaderboards');

    await expectKept(h, before);
    await expectServedStale(h, before, 3_600_000, 24 * 3_600_000);
  });

  it('never shortens a TTL: a freshly written key keeps its longer TTL when maxStale is short', async () => {
    const h = await create({ env: { CACHE_MAX_STALE: '30s' } });
    expect((await h.run('projects-list')).ok).toBe(true);
    expect((await h.run('project-stats')).ok).toBe(true);
    const before = await snapshot(h, (key) => key.endsWith(':stats'));
    h.sim.fault({ route: 'statistics', kind: 'status', status: 503 });

    await h.run('project-stats');

    await expectKept(h, before);
    for (const key of before.keys()) expect(await h.redis.pttl(key), key).toBeGreaterThan(3_600_000 - 10_000);
  });

  it('takes CACHE_MAX_STALE for every job, and a job’s own maxStale over it', async () => {
    const h = await create({ env: { CACHE_MAX_STALE: '20s' }, file: { jobs: { leaderboards: { maxStale: '40s' } } } });
    const only = (key: string) => key.endsWith(':topics') || key.includes(':leaderboard:');
    const before = await warmShort(h, ['topics', 'leaderboards'], only);
    h.sim.fault({ route: ['topics', 'ranking'], kind: 'status', status: 503 });

    await h.run('topics');
    await h.run('leaderboards');

    await expectKept(h, before);
    await expectServedStale(h, new Map([...before].filter(([key]) => key.endsWith(':topics'))), 600_000, 20_000);
    await expectServedStale(h, new Map([...before].filter(([key]) => key.includes(':leaderboard:'))), 3_600_000, 40_000);
  });

  it('serves a failed scope’s list and its projects’ info stale, but not an empty list', async () => {
    const h = await create({ env: { CACHE_MAX_STALE: '20s' } });
    const only = (key: string) => key.includes(':projects:list:') || key.endsWith(':info');
    const before = await warmShort(h, [], only);
    h.sim.fault({ route: 'projects', kind: 'status', status: 503 });

    await h.run('projects-list');

    await expectKept(h, before);
    await expectServedStale(h, before, 7_200_000, 20_000);
    // Every listed project's info was among the extended keys.
    for (const p of h.sim.data.projects) expect(await h.redis.pttl(h.key('project', p.checkin_id, 'info'))).toBeGreaterThan(SHORT_MS);
  });

  it('leaves a value older than maxStale to expire: readers then see a miss, never garbage', async () => {
    const h = await create({ file: { jobs: { topics: { maxStale: '1s' } } } });
    const only = (key: string) => key.endsWith(':topics');
    const before = await warmShort(h, ['topics'], only);
    const oldest = Math.min(...[...before.values()].map((v) => Date.parse(JSON.parse(v.raw).cached_at)));
    await waitFor('the values to be older than maxStale', () => (Date.now() > oldest + 1_050 ? true : undefined), { timeoutMs: 2_000 });
    h.sim.fault({ route: 'topics', kind: 'status', status: 503 });

    const result = await h.run('topics');

    expect(result.staleExtended).toBe(0);
    await expectKept(h, before);
    for (const key of before.keys()) expect(await h.redis.pttl(key), key).toBeLessThanOrEqual(SHORT_MS - 1_000);
    await waitFor('the values to expire', async () => ((await snapshot(h, only)).size === 0 ? true : undefined), { timeoutMs: 2_000, intervalMs: 50 });
  });

  it('is off with maxStale 0: a failed key keeps its remaining TTL', async () => {
    const h = await create({ file: { jobs: { topics: { maxStale: '0' } } } });
    const only = (key: string) => key.endsWith(':topics');
    const before = await warmShort(h, ['topics'], only);
    h.sim.fault({ route: 'topics', kind: 'status', status: 503 });

    const result = await h.run('topics');

    expect(result.staleExtended).toBe(0);
    await expectKept(h, before);
    for (const key of before.keys()) expect(await h.redis.pttl(key), key).toBeLessThanOrEqual(SHORT_MS);
  });
});
