import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { PartialRefreshError, WarmerError } from '../../src/shared/errors.js';
import { harnessPerTest, nextMillisecond, type Harness } from '../support/harness.js';
import type { Fault, RouteName } from '../support/simulator/server.js';

// Six projects (seed 1): four ongoing, one of them empty. A concurrency above the
// number of units runs every unit at once, so retried 500s cost one backoff, not several.
const create = harnessPerTest({ projects: 6, env: { UPSTREAM_CONCURRENCY: '16' } });

interface Snapshot {
  raw: string;
  pttl: number;
}

/**
 * Ages every warmed key by a minute (as if written a minute ago), so that a refresh
 * that resets a TTL shows as an increase, whatever the timing of the test.
 */
async function age(h: Harness, byMs = 60_000): Promise<void> {
  for (const key of await h.cacheKeys()) {
    const pttl = await h.redis.pttl(key);
    await h.redis.pexpire(key, pttl - byMs);
  }
}

/** Every warmed key's exact bytes and remaining TTL. */
async function snapshot(h: Harness): Promise<Map<string, Snapshot>> {
  const out = new Map<string, Snapshot>();
  for (const key of await h.cacheKeys()) {
    const [raw, pttl] = await Promise.all([h.redis.get(key), h.redis.pttl(key)]);
    out.set(key, { raw: raw!, pttl });
  }
  return out;
}

/** Default TTLs by key family (the harness keeps the job files' defaults). */
const FAMILY_TTL_MS: Array<[RegExp, number]> = [
  [/:projects:list:/, 7_200_000],
  [/:info$/, 7_200_000],
  [/:stats$/, 3_600_000],
  [/:leaderboard:/, 3_600_000],
  [/:daily_stats$/, 1_800_000],
  [/:topics$/, 600_000],
];

/**
 * Nothing was rewritten or deleted: same keys, same bytes. Served stale: no
 * TTL went down, none went above its family's TTL, and an empty answer's TTL
 * was not extended at all.
 */
async function expectUntouched(h: Harness, before: Map<string, Snapshot>, only?: (key: string) => boolean): Promise<void> {
  const after = await snapshot(h);
  const pick = (m: Map<string, Snapshot>) => [...m.keys()].filter((k) => !only || only(k)).sort();
  expect(pick(after)).toEqual(pick(before));
  for (const key of pick(before)) {
    const was = before.get(key)!;
    const now = after.get(key)!;
    expect(now.raw, `value of ${key}`).toBe(was.raw);
    expect(now.pttl, `TTL of ${key}`).toBeGreaterThan(0);
    const family = FAMILY_TTL_MS.find(([pattern]) => pattern.test(key));
    expect(family, `TTL family of ${key}`).toBeDefined();
    expect(now.pttl, `TTL of ${key}`).toBeLessThanOrEqual(family![1]);
    const empty = /":\[\]/.test(was.raw);
    if (empty) expect(now.pttl, `TTL of empty ${key}`).toBeLessThanOrEqual(was.pttl);
    else expect(now.pttl, `TTL of ${key}`).toBeGreaterThanOrEqual(was.pttl - 5_000);
  }
}

const ongoing = (h: Harness) => h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);

/** The error of the failed unit(s): a partial failure wraps the first one. */
function unitError(error: Error | undefined): WarmerError {
  const unit = error instanceof PartialRefreshError ? (error.cause as Error) : error;
  expect(unit).toBeInstanceOf(WarmerError);
  return unit as WarmerError;
}

interface FaultCase {
  label: string;
  fault: Fault;
  code: string;
  mentions: string;
  /** HTTP attempts per unit: retries only follow transient failures. */
  attempts: number;
}

const FAULTS: FaultCase[] = [
  { label: 'HTTP 500 on every retry', fault: { kind: 'status', status: 500 }, code: 'ERR_UPSTREAM_HTTP', mentions: 'HTTP 500', attempts: 3 },
  { label: 'envelope code 1030', fault: { kind: 'envelope', code: 1030 }, code: 'ERR_UPSTREAM_REJECTED', mentions: 'code 1030 (permission denied)', attempts: 1 },
  { label: 'invalid JSON', fault: { kind: 'invalid-json' }, code: 'ERR_UPSTREAM_BAD_BODY', mentions: 'not valid JSON', attempts: 1 },
  { label: 'a body of the wrong shape', fault: { kind: 'wrong-shape' }, code: 'ERR_UPSTREAM_SHAPE', mentions: 'unexpected body at', attempts: 1 },
  { label: 'ids that are not decimal', fault: { kind: 'bad-id' }, code: 'ERR_UPSTREAM_SHAPE', mentions: 'is not a decimal id', attempts: 1 },
];

/** One unit of a job's fan-out: the keys it writes and whether the upstream answers it with an empty list. */
interface UnitInfo {
  keys: string[];
  empty: boolean;
}

const TYPES = ['continuous', 'accumulated'] as const;
const SCOPES = ['ongoing', 'closed', 'over'] as const;

const JOBS: { job: string; route: RouteName; hasIds: boolean; units: (h: Harness) => UnitInfo[] }[] = [
  {
    job: 'projects-list',
    route: 'projects',
    hasIds: true,
    units: (h) =>
      SCOPES.map((scope) => {
        const listed = h.sim.data.projects.filter((p) => p.status === scope && !p.deleted);
        return { keys: [h.key('projects', 'list', scope), ...listed.map((p) => h.key('project', p.checkin_id, 'info'))], empty: listed.length === 0 };
      }),
  },
  {
    job: 'project-stats',
    route: 'statistics',
    hasIds: false,
    units: (h) => ongoing(h).map((p) => ({ keys: [h.key('project', p.checkin_id, 'stats')], empty: false })),
  },
  {
    job: 'leaderboards',
    route: 'ranking',
    hasIds: true,
    units: (h) =>
      ongoing(h).flatMap((p) => TYPES.map((t) => ({ keys: [h.key('project', p.checkin_id, 'leaderboard', t)], empty: p.rankings[t].length === 0 }))),
  },
  {
    job: 'daily-stats',
    route: 'daily',
    hasIds: false,
    units: (h) => ongoing(h).map((p) => ({ keys: [h.key('project', p.checkin_id, 'daily_stats')], empty: false })),
  },
  {
    job: 'topics',
    route: 'topics',
    hasIds: true,
    units: (h) => ongoing(h).map((p) => ({ keys: [h.key('project', p.checkin_id, 'topics')], empty: p.topics.length === 0 })),
  },
];

// `bad-id` only corrupts ids: the statistics answers carry none, and an empty list
// carries none either, so such units still succeed (and rewrite their empty value).
const MATRIX = JOBS.flatMap((j) => FAULTS.filter((f) => f.fault.kind !== 'bad-id' || j.hasIds).map((f) => ({ ...j, ...f })));

describe('a failed refresh never overwrites or deletes a good value', () => {
  it.each(MATRIX)('$job keeps the failed units’ values byte-identical after $label', async ({ job, route, units, fault, code, mentions, attempts }) => {
    const h = await create();
    await h.run('projects-list');
    if (job !== 'projects-list') expect((await h.run(job)).ok).toBe(true);
    await age(h);
    const before = await snapshot(h);
    expect(before.size).toBeGreaterThan(0);
    await nextMillisecond(); // a rewrite would now carry a different cached_at
    h.sim.resetRequests();
    h.sim.fault({ route, ...fault });

    const result = await h.run(job);

    const all = units(h);
    const failing = fault.kind === 'bad-id' ? all.filter((u) => !u.empty) : all;
    const unaffected = all.filter((u) => !failing.includes(u));
    expect(failing.length).toBeGreaterThan(0);
    expect(result).toMatchObject({
      job,
      ok: false,
      keysWritten: unaffected.reduce((n, u) => n + u.keys.length, 0),
      itemsOk: unaffected.length,
      itemsFailed: failing.length,
    });
    const error = unitError(result.error);
    expect(error.code).toBe(code);
    expect(error.message).toContain(mentions);
    // Each failing unit retries (attempts - 1) times, within the refresh's retry
    // budget: at least 10 retries, or 20 % of the units (src/upstream/retry-budget.ts).
    const retries = Math.min(failing.length * (attempts - 1), Math.max(10, Math.ceil(all.length * 0.2)));
    expect(h.sim.count(route)).toBe(all.length + retries);
    const kept = new Set(failing.flatMap((u) => u.keys));
    await expectUntouched(h, before, (key) => kept.has(key) || !unaffected.some((u) => u.keys.includes(key)));

    const [status] = await h.runtime.run.status.read([job]);
    expect(status).toMatchObject({ runs: 2, successes: 1, failures: 1, itemsFailed: failing.length });
    expect(status!.lastError).toMatch(/^ERR_[A-Z_]+: /);
    expect(status!.lastError).toContain(mentions);
    expect(status!.lastError).not.toContain(h.token);
    expect(Date.parse(status!.lastFailureAt!)).toBeGreaterThan(Date.parse(status!.lastSuccessAt!));
    expect(h.logs.join('\n')).not.toContain(h.token);
  });

  it('a revoked token fails every unit with ERR_UPSTREAM_AUTH and leaves the token out of the error, the status store and the logs', async () => {
    const h = await create();
    await h.run('projects-list');
    await h.run('topics');
    await age(h);
    const before = await snapshot(h);
    h.sim.resetRequests();
    h.sim.setToken('a-rotated-token-the-warmer-does-not-know');

    const result = await h.run('topics');

    expect(result.ok).toBe(false);
    const error = unitError(result.error);
    expect(error.code).toBe('ERR_UPSTREAM_AUTH');
    for (const text of [result.error!.message, String(result.error), JSON.stringify(result.error), error.message, JSON.stringify(error)]) {
      expect(text).not.toContain(h.token);
    }
    await expectUntouched(h, before);
    const [status] = await h.runtime.run.status.read(['topics']);
    expect(status!.lastError).toContain('HTTP 401');
    expect(status!.lastError).not.toContain(h.token);
    expect(h.logs.join('\n')).not.toContain(h.token);
    expect(h.sim.requests.every((r) => !r.authorized)).toBe(true);
  });

  // Regression (fixed): run-job.ts wraps the first error in a PartialRefreshError unless exactly one unit
  // ran, although its comment says "All failed: the unit's own error says most". An expired
  // token then shows up as ERR_REFRESH_PARTIAL "4 of 4 items failed" instead of ERR_UPSTREAM_AUTH.
  it('a refresh in which every unit failed reports the units’ own error code, not a partial refresh', async () => {
    const h = await create();
    await h.run('projects-list');
    h.sim.setToken('a-rotated-token-the-warmer-does-not-know');

    const result = await h.run('topics');

    expect(result).toMatchObject({ ok: false, itemsOk: 0, itemsFailed: ongoing(h).length });
    expect(ongoing(h).length).toBeGreaterThan(1);
    expect((result.error as WarmerError).code).toBe('ERR_UPSTREAM_AUTH');
    const [status] = await h.runtime.run.status.read(['topics']);
    expect(status!.lastError).toMatch(/^ERR_UPSTREAM_AUTH: /);
  });
});

describe('a partial failure', () => {
  it('writes the projects that answered, keeps the failed one’s value and records itemsFailed', async () => {
    const h = await create();
    await h.run('projects-list');
    await h.run('topics');
    const victim = ongoing(h).find((p) => p.topics.length > 0)!;
    const victimKey = h.key('project', victim.checkin_id, 'topics');
    await age(h);
    const before = await snapshot(h);
    await nextMillisecond();
    h.sim.fault({ route: 'topics', projectId: victim.checkin_id, kind: 'envelope', code: 1030 });
    for (const p of ongoing(h)) if (p.topics[0]) p.topics[0].likes_count += 1000;

    const started = Date.now();
    const result = await h.run('topics');

    const n = ongoing(h).length;
    expect(result).toMatchObject({ ok: false, itemsOk: n - 1, itemsFailed: 1, keysWritten: n - 1 });
    expect(result.error).toBeInstanceOf(PartialRefreshError);
    expect(result.error!.message).toMatch(new RegExp(`^1 of ${n} items failed; first: GET /v2/groups/${h.groupId}/checkins/${victim.checkin_id}/topics: .*code 1030`));
    await expectUntouched(h, before, (key) => key === victimKey || !key.endsWith(':topics'));
    for (const p of ongoing(h).filter((q) => q !== victim)) {
      const value = await h.json(h.key('project', p.checkin_id, 'topics'));
      expect(Date.parse(value.cached_at)).toBeGreaterThanOrEqual(started);
      if (p.topics[0]) expect(value.topics[0].likes_count).toBe(p.topics[0].likes_count);
      // Rewritten with its full TTL: above the aged one.
      expect(await h.redis.pttl(h.key('project', p.checkin_id, 'topics'))).toBeGreaterThan(before.get(h.key('project', p.checkin_id, 'topics'))!.pttl);
    }

    const [status] = await h.runtime.run.status.read(['topics']);
    expect(status).toMatchObject({ runs: 2, successes: 1, failures: 1, itemsOk: n + (n - 1), itemsFailed: 1, lastKeysWritten: n - 1 });
    expect(status!.lastError).toMatch(new RegExp(`^ERR_REFRESH_PARTIAL: 1 of ${n} items failed; first: .*code 1030 \\(permission denied\\)`));
    expect(status!.lastError).not.toContain(h.token);
  });

  it('a scope whose list fails keeps its list and its projects’ info while the other scopes are rewritten', async () => {
    // One request at a time: the scopes are then asked in declaration order, ongoing first.
    const h = await create({ env: { UPSTREAM_CONCURRENCY: '1' } });
    await h.run('projects-list');
    await age(h);
    const before = await snapshot(h);
    await nextMillisecond();
    h.sim.fault({ route: 'projects', kind: 'envelope', code: 1030, times: 1 });

    const result = await h.run('projects-list');

    expect(result).toMatchObject({ ok: false, outcome: 'failed', itemsOk: 2, itemsFailed: 1 });
    expect(unitError(result.error).code).toBe('ERR_UPSTREAM_REJECTED');
    const ongoingKeys = new Set([h.key('projects', 'list', 'ongoing'), ...ongoing(h).map((p) => h.key('project', p.checkin_id, 'info'))]);
    await expectUntouched(h, before, (key) => ongoingKeys.has(key));
    const closed = await h.json(h.key('projects', 'list', 'closed'));
    expect(closed.cached_at).not.toBe(JSON.parse(before.get(h.key('projects', 'list', 'closed'))!.raw).cached_at);
  });
});

describe('hostile or broken answers', () => {
  it('a redirect is not followed, so the token never travels to the host it points at', async () => {
    const h = await create();
    let stolen = 0;
    const elsewhere = createServer((_req, res) => {
      stolen += 1;
      res.end('{"succeeded":true,"resp_data":{"topics":[]}}');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    h.track({ close: () => new Promise<void>((resolve) => elsewhere.close(() => resolve())) });
    const address = elsewhere.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await h.run('projects-list');
    await h.run('topics');
    await age(h);
    const before = await snapshot(h);
    h.sim.fault({ route: 'topics', kind: 'redirect', location: `http://127.0.0.1:${port}/steal` });

    const result = await h.run('topics');

    expect(result.ok).toBe(false);
    const error = unitError(result.error);
    expect(error.code).toBe('ERR_UPSTREAM_HTTP');
    expect(error.message).toContain('HTTP 302 redirect not followed');
    expect(stolen).toBe(0);
    await expectUntouched(h, before);
  });

  it('an upstream that never answers fails the unit after the timeout and its retries, keeping the value', async () => {
    const h = await create({ env: { UPSTREAM_TIMEOUT: '200ms', UPSTREAM_RETRIES: '1' } });
    await h.run('projects-list');
    await h.run('daily-stats');
    await age(h);
    const before = await snapshot(h);
    h.sim.resetRequests();
    h.sim.fault({ route: 'daily', kind: 'hang' });

    const started = Date.now();
    const result = await h.run('daily-stats');

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ ok: false, itemsOk: 0, itemsFailed: ongoing(h).length });
    expect(unitError(result.error).code).toBe('ERR_UPSTREAM_TIMEOUT');
    expect(h.sim.count('daily')).toBe(2 * ongoing(h).length);
    await expectUntouched(h, before);
  });

  it('__proto__ keys in every answer neither pollute prototypes nor reach the cache', async () => {
    const h = await create();
    h.sim.fault({ kind: 'proto' });

    for (const job of ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics']) {
      const result = await h.run(job);
      expect(result.error?.message, job).toBeUndefined();
    }

    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    const keys = await h.cacheKeys();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const raw = (await h.redis.get(key))!;
      expect(raw, key).not.toContain('__proto__');
      expect(raw, key).not.toContain('polluted');
    }
  });

  // Regression (fixed): jobs/topics.ts and jobs/leaderboards.ts give the list a `.default([])`, so an
  // answer without the list at all (here `resp_data: {}`, as the detail endpoint sends for a
  // deleted project; equally a 50 MB `{"padding":…}` body) is taken for an empty list and
  // overwrites the good value. The upstream's empty answer is an empty list, `"topics": []`.
  it.each([
    { job: 'topics', route: 'topics' as RouteName },
    { job: 'leaderboards', route: 'ranking' as RouteName },
  ])('$job: an answer without the list at all is a failure, not an empty list, and keeps the previous value', async ({ job, route }) => {
    const h = await create();
    await h.run('projects-list');
    await h.run(job);
    await age(h);
    const before = await snapshot(h);
    await nextMillisecond();
    h.sim.fault({ route, kind: 'deleted' });

    const result = await h.run(job);

    expect(result.ok).toBe(false);
    expect(unitError(result.error).code).toBe('ERR_UPSTREAM_SHAPE');
    await expectUntouched(h, before);
  });
});
