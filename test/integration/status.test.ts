import { describe, expect, it } from 'vitest';
import { StatusStore, type RunRecord } from '../../src/status/store.js';
import { harnessPerTest } from '../support/harness.js';

// The status store needs no upstream: a one-project simulator keeps the harness cheap.
const create = harnessPerTest({ projects: 1 });

const HOUR = 3_600_000;

function record(overrides: Partial<RunRecord> & { at: number }): RunRecord {
  return {
    job: 'topics',
    ok: true,
    durationMs: 120,
    keysWritten: 3,
    bytesWritten: 900,
    itemsOk: 3,
    itemsFailed: 0,
    trigger: 'schedule',
    ...overrides,
  };
}

describe('StatusStore', () => {
  it('reports zero counts and null fields for a job that never ran', async () => {
    const h = await create();
    const [status] = await h.runtime.run.status.read(['topics']);
    expect(status).toEqual({
      name: 'topics',
      runs: 0,
      successes: 0,
      failures: 0,
      itemsOk: 0,
      itemsFailed: 0,
      successRate: null,
      successRate24h: null,
      runs24h: 0,
      successRate1h: null,
      runs1h: 0,
      history: expect.any(Array),
      firstRunAt: null,
      lastRunAt: null,
      lastSuccessAt: null,
      lastFailureAt: null,
      lastError: null,
      lastDurationMs: null,
      lastKeysWritten: null,
      lastBytesWritten: null,
      lastTrigger: null,
      state: 'never run',
      throttles: 0,
      lastThrottledAt: null,
      authFailedAt: null,
      lastFullSuccessAt: null,
      dataAgeSeconds: null,
    });
    expect(status!.history).toHaveLength(24);
    expect(status!.history.every((p) => p.ok === 0 && p.fail === 0)).toBe(true);
    expect(await h.runtime.run.status.knownJobs()).toEqual([]);
  });

  it('counts runs, successes and failures and keeps the last run’s error, duration, keys and trigger', async () => {
    const h = await create();
    const store = h.runtime.run.status;
    const t0 = Date.now() - 10 * 60_000;
    await store.record(record({ at: t0, itemsOk: 5 }));
    await store.record(record({ at: t0 + 60_000, ok: false, itemsOk: 2, itemsFailed: 1, error: 'ERR_UPSTREAM_REJECTED: code 1030', durationMs: 40, keysWritten: 2, bytesWritten: 10, trigger: 'once' }));
    await store.record(record({ at: t0 + 120_000, itemsOk: 4 }));
    await store.record(record({ at: t0 + 180_000, durationMs: 777.6, keysWritten: 9, bytesWritten: 4321, trigger: 'manual' }));

    const [status] = await store.read(['topics'], t0 + 200_000);
    expect(status).toEqual({
      name: 'topics',
      runs: 4,
      successes: 3,
      failures: 1,
      itemsOk: 5 + 2 + 4 + 3,
      itemsFailed: 1,
      successRate: 0.75,
      successRate24h: 0.75,
      runs24h: 4,
      successRate1h: 0.75,
      runs1h: 4,
      history: expect.any(Array),
      firstRunAt: new Date(t0).toISOString(),
      lastRunAt: new Date(t0 + 180_000).toISOString(),
      lastSuccessAt: new Date(t0 + 180_000).toISOString(),
      lastFailureAt: new Date(t0 + 60_000).toISOString(),
      lastError: 'ERR_UPSTREAM_REJECTED: code 1030',
      lastDurationMs: 778,
      lastKeysWritten: 9,
      lastBytesWritten: 4321,
      lastTrigger: 'manual',
      state: 'ok',
      throttles: 0,
      lastThrottledAt: null,
      authFailedAt: null,
      // The last run started durationMs (777.6, recorded as 778) before it was recorded.
      lastFullSuccessAt: new Date(t0 + 180_000 - 778).toISOString(),
      dataAgeSeconds: (200_000 - 180_000 + 778) / 1000,
    });
    expect(await store.knownJobs()).toEqual(['topics']);
  });

  it('keeps jobs apart and lists every job that ever recorded a run', async () => {
    const h = await create();
    const store = h.runtime.run.status;
    const now = Date.now();
    await store.record(record({ job: 'topics', at: now }));
    await store.record(record({ job: 'old-job', at: now, ok: false, error: 'gone' }));
    const [topics, old, never] = await store.read(['topics', 'old-job', 'leaderboards']);
    expect([topics!.runs, topics!.failures, old!.runs, old!.failures, never!.runs]).toEqual([1, 0, 1, 1, 0]);
    expect(await store.knownJobs()).toEqual(['old-job', 'topics']);
  });

  it.each([
    ['before', 'old runs first'],
    ['after', 'old runs last'],
  ])('leaves runs older than 24 hours out of successRate24h but keeps them in the all-time rate (%s the recent ones)', async (order) => {
    const h = await create();
    const store = h.runtime.run.status;
    const now = Date.now();
    const old = [record({ at: now - 30 * HOUR, ok: false, error: 'old' }), record({ at: now - 25 * HOUR, ok: false, error: 'old' }), record({ at: now - 25 * HOUR })];
    const recent = [record({ at: now - 23 * HOUR }), record({ at: now - HOUR, ok: false, error: 'recent' }), record({ at: now - 60_000 })];
    for (const run of order === 'before' ? [...old, ...recent] : [...recent, ...old]) await store.record(run);

    const [status] = await store.read(['topics'], now);
    expect(status).toMatchObject({ runs: 6, successes: 3, failures: 3, successRate: 0.5, runs24h: 3 });
    expect(status!.successRate24h).toBeCloseTo(2 / 3, 10);
  });

  it('reads the 24-hour rate relative to the given instant', async () => {
    const h = await create();
    const store = h.runtime.run.status;
    const now = Date.now();
    await store.record(record({ at: now - 2 * HOUR, ok: false, error: 'x' }));
    await store.record(record({ at: now }));
    expect((await store.read(['topics'], now))[0]).toMatchObject({ runs24h: 2, successRate24h: 0.5 });
    // 23 hours later only the newer run is inside the window; two days later neither is, though both still count all-time.
    expect((await store.read(['topics'], now + 23 * HOUR))[0]).toMatchObject({ runs24h: 1, successRate24h: 1 });
    expect((await store.read(['topics'], now + 48 * HOUR))[0]).toMatchObject({ runs24h: 0, successRate24h: null, successRate: 0.5 });
  });

  it('scrubs the upstream token from a recorded error and caps its length', async () => {
    const h = await create();
    const store = h.runtime.run.status;
    await store.record(record({ at: Date.now(), ok: false, error: `ERR_UPSTREAM_AUTH: token ${h.token} ${'x'.repeat(1000)}` }));
    const [status] = await store.read(['topics']);
    expect(status!.lastError).not.toContain(h.token);
    expect(status!.lastError).toMatch(/^ERR_UPSTREAM_AUTH: token \[redacted\] x+$/);
    expect(status!.lastError!.length).toBe(500);
  });

  it('sums concurrent records from several clients exactly', async () => {
    const h = await create();
    const clients = [h.connect('cache'), h.connect('cache'), h.connect('cache'), h.connect('cache')];
    const stores = clients.map((c) => new StatusStore(c, h.prefix));
    const perClient = 40;
    const now = Date.now();
    await Promise.all(
      stores.map((store, c) =>
        Promise.all(
          Array.from({ length: perClient }, (_, i) =>
            store.record(
              record({
                job: i % 2 === 0 ? 'topics' : 'leaderboards',
                at: now - (i % 5) * 60_000,
                ok: i % 4 !== 1,
                itemsOk: c + 1,
                itemsFailed: i % 4 === 1 ? 1 : 0,
                ...(i % 4 === 1 ? { error: `client ${c} run ${i}` } : {}),
              }),
            ),
          ),
        ),
      ),
    );

    const [topics, leaderboards] = await h.runtime.run.status.read(['topics', 'leaderboards']);
    const runsPerJob = (stores.length * perClient) / 2;
    const failuresOfLeaderboards = stores.length * (perClient / 4); // i % 4 === 1 only happens for odd i
    const itemsOkPerJob = (perClient / 2) * (1 + 2 + 3 + 4);
    expect(topics).toMatchObject({ runs: runsPerJob, successes: runsPerJob, failures: 0, runs24h: runsPerJob, itemsOk: itemsOkPerJob, itemsFailed: 0 });
    expect(leaderboards).toMatchObject({
      runs: runsPerJob,
      successes: runsPerJob - failuresOfLeaderboards,
      failures: failuresOfLeaderboards,
      runs24h: runsPerJob,
      itemsOk: itemsOkPerJob,
      itemsFailed: failuresOfLeaderboards,
      successRate: (runsPerJob - failuresOfLeaderboards) / runsPerJob,
    });
    expect(leaderboards!.lastError).toMatch(/^client \d run \d+$/);
    expect(await h.runtime.run.status.knownJobs()).toEqual(['leaderboards', 'topics']);
  });

  it('records what a real refresh did', async () => {
    const h = await create();
    const before = Date.now();
    const result = await h.run('projects-list', 'manual');
    const [status] = await h.runtime.run.status.read(['projects-list']);
    expect(status).toMatchObject({
      runs: 1,
      successes: 1,
      failures: 0,
      itemsOk: 3,
      successRate: 1,
      lastKeysWritten: result.keysWritten,
      lastBytesWritten: result.bytesWritten,
      lastDurationMs: Math.round(result.durationMs),
      lastTrigger: 'manual',
      lastError: null,
    });
    expect(Date.parse(status!.lastRunAt!)).toBeGreaterThanOrEqual(before);
    expect(result.bytesWritten).toBeGreaterThan(0);
  });

  it('counts throttling apart from failures, and an auth failure marks every job until its next success', async () => {
    const h = await create();
    const store = h.runtime.run.status;
    const at = Date.now() - 60_000;
    await store.recordThrottle('topics', at, 5_000);
    await store.markAuthFailed(['topics', 'leaderboards'], at, 'ERR_UPSTREAM_AUTH: refused');
    let [topics, leaderboards] = await store.read(['topics', 'leaderboards']);
    expect(topics).toMatchObject({ runs: 0, failures: 0, throttles: 1, lastThrottledAt: new Date(at).toISOString(), state: 'auth failed', lastError: 'ERR_UPSTREAM_AUTH: refused' });
    expect(leaderboards).toMatchObject({ state: 'auth failed', authFailedAt: new Date(at).toISOString() });

    await store.record(record({ at: at + 1_000 }));
    [topics, leaderboards] = await store.read(['topics', 'leaderboards']);
    expect(topics).toMatchObject({ state: 'ok', authFailedAt: null, successes: 1 });
    expect(leaderboards!.state).toBe('auth failed');
  });

  describe('1-hour rate, hourly history and data age', () => {
    // 12:02:30 UTC: the current 5-minute bucket starts at 12:00, the 1-hour window at 11:05.
    const NOW = Date.UTC(2026, 0, 10, 12, 2, 30);
    const MIN = 60_000;

    it('computes successRate1h from the last 12 five-minute buckets only', async () => {
      const h = await create();
      const store = h.runtime.run.status;
      await store.record(record({ at: Date.UTC(2026, 0, 10, 11, 4, 59), ok: false, error: 'just outside' }));
      await store.record(record({ at: Date.UTC(2026, 0, 10, 11, 5, 0), ok: false, error: 'first bucket in' }));
      await store.record(record({ at: NOW - 30 * MIN }));
      await store.record(record({ at: NOW - 5 * MIN }));
      await store.record(record({ at: NOW }));

      const [status] = await store.read(['topics'], NOW);
      expect(status).toMatchObject({ runs1h: 4, runs24h: 5, successRate24h: 3 / 5 });
      expect(status!.successRate1h).toBe(3 / 4);
      // At 12:57:30 the window starts at 12:00: only NOW's bucket is left; at 13:02:30 it starts at 12:05.
      expect((await store.read(['topics'], NOW + 55 * MIN))[0]).toMatchObject({ runs1h: 1, successRate1h: 1 });
      expect((await store.read(['topics'], NOW + 60 * MIN))[0]).toMatchObject({ runs1h: 0, successRate1h: null });
    });

    it('returns 24 hourly points, oldest first, each counting the successes and failures of its hour', async () => {
      const h = await create();
      const store = h.runtime.run.status;
      const at = (hour: number, minute: number) => Date.UTC(2026, 0, 10, hour, minute);
      // Yesterday 12:59 is 24 hours back (outside); yesterday 13:00 is the oldest point.
      for (const run of [
        record({ at: Date.UTC(2026, 0, 9, 12, 59) }),
        record({ at: Date.UTC(2026, 0, 9, 13, 0), ok: false, error: 'x' }),
        record({ at: Date.UTC(2026, 0, 9, 13, 59) }),
        record({ at: at(9, 10) }),
        record({ at: at(9, 50), ok: false, error: 'x' }),
        record({ at: at(9, 55), ok: false, error: 'x' }),
        record({ at: at(12, 0) }),
        record({ at: at(12, 2) }),
      ]) {
        await store.record(run);
      }

      const [status] = await store.read(['topics'], NOW);
      const history = status!.history;
      expect(history).toHaveLength(24);
      expect(history[0]!.start).toBe('2026-01-09T13:00:00.000Z');
      expect(history[23]!.start).toBe('2026-01-10T12:00:00.000Z');
      for (let i = 1; i < 24; i += 1) expect(Date.parse(history[i]!.start) - Date.parse(history[i - 1]!.start)).toBe(HOUR);
      const byStart = Object.fromEntries(history.map((p) => [p.start, [p.ok, p.fail]]));
      expect(byStart['2026-01-09T13:00:00.000Z']).toEqual([1, 1]);
      expect(byStart['2026-01-10T09:00:00.000Z']).toEqual([1, 2]);
      expect(byStart['2026-01-10T12:00:00.000Z']).toEqual([2, 0]);
      expect(history.reduce((sum, p) => sum + p.ok + p.fail, 0)).toBe(7);
      // The 24-hour rate counts every bucket that overlaps the last 24 hours (yesterday 12:55–13:00 does);
      // the history starts at a whole hour.
      expect(status!.runs24h).toBe(8);
    });

    it('dates the data from the start of the last run with no failed item; partial and failed runs do not move it', async () => {
      const h = await create();
      const store = h.runtime.run.status;
      expect((await store.read(['topics'], NOW))[0]).toMatchObject({ lastFullSuccessAt: null, dataAgeSeconds: null });

      await store.record(record({ at: NOW - 20 * MIN, durationMs: 4_000 }));
      let [status] = await store.read(['topics'], NOW);
      expect(status!.lastFullSuccessAt).toBe(new Date(NOW - 20 * MIN - 4_000).toISOString());
      expect(status!.dataAgeSeconds).toBe(20 * 60 + 4);

      // A run where some units failed (their keys served stale) and a run that failed outright.
      await store.record(record({ at: NOW - 10 * MIN, ok: false, itemsOk: 5, itemsFailed: 2, error: 'ERR_REFRESH_PARTIAL: 2 of 7 items failed' }));
      await store.record(record({ at: NOW - 5 * MIN, ok: false, itemsOk: 0, itemsFailed: 7, error: 'ERR_UPSTREAM_HTTP: 500' }));
      [status] = await store.read(['topics'], NOW);
      expect(status).toMatchObject({ lastFullSuccessAt: new Date(NOW - 20 * MIN - 4_000).toISOString(), dataAgeSeconds: 20 * 60 + 4 });
      expect(status!.lastSuccessAt).toBe(new Date(NOW - 20 * MIN).toISOString());

      // An explicit start wins over at − durationMs; a replica recording an older run late does not age the data.
      await store.record(record({ at: NOW - MIN, durationMs: 500, startedAt: NOW - 2 * MIN }));
      await store.record(record({ at: NOW - 15 * MIN, durationMs: 100 }));
      [status] = await store.read(['topics'], NOW);
      expect(status).toMatchObject({ lastFullSuccessAt: new Date(NOW - 2 * MIN).toISOString(), dataAgeSeconds: 120 });
      expect((await store.read(['topics'], NOW + 30_000))[0]!.dataAgeSeconds).toBe(150);
    });

    it('keeps lastFullSuccessAt when concurrent replicas record runs at once', async () => {
      const h = await create();
      const stores = [h.connect('cache'), h.connect('cache'), h.connect('cache')].map((c) => new StatusStore(c, h.prefix));
      const starts = Array.from({ length: 30 }, (_, i) => NOW - (i + 1) * MIN);
      await Promise.all(starts.map((start, i) => stores[i % stores.length]!.record(record({ at: start + 1_000, durationMs: 1_000 }))));
      const [status] = await h.runtime.run.status.read(['topics'], NOW);
      expect(status!.lastFullSuccessAt).toBe(new Date(Math.max(...starts)).toISOString());
      expect(status!.runs).toBe(30);
    });
  });
});
