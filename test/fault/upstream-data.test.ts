/**
 * Fault suite, upstream half: data that changes under the warmer or attacks
 * it. A deleted project is cached as gone and leaves the fan-out; an empty
 * answer from a project that still exists is a failure; ids that are not
 * digits never reach a key or a URL; `__proto__` changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { harnessPerTest, nextMillisecond, type Harness } from '../support/harness.js';
import { keysUnder } from '../support/redis.js';
import { expectKept, expectNoSecret, ongoing, snapshot, statusHash } from '../support/fault-kit.js';
import { internalKeys } from '../../src/cache/keys.js';

const create = harnessPerTest({ projects: 12 });

const JOBS = ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics'];

async function warmAll(h: Harness) {
  for (const job of JOBS) expect((await h.run(job)).ok, job).toBe(true);
  await nextMillisecond();
  h.sim.resetRequests();
}

const requestsFor = (h: Harness, projectId: string) => h.sim.requests.filter((r) => r.path.includes(`/checkins/${projectId}`));

describe('a project deleted upstream', () => {
  it('is cached as gone by the per-project refresh that meets it, counted in itemsGone, and left out of every later fan-out', async () => {
    const h = await create();
    await warmAll(h);
    const victim = ongoing(h).find((p) => p.topics.length > 0)!;
    const infoKey = h.key('project', victim.checkin_id, 'info');
    victim.deleted = true;
    const live = ongoing(h).length;
    const started = Date.now();

    const result = await h.run('topics');

    expect(result).toMatchObject({ outcome: 'ok', ok: true, itemsOk: live, itemsFailed: 0, itemsGone: 1 });
    // Its topics answered {}, and its detail confirmed the deletion.
    expect(requestsFor(h, victim.checkin_id).map((r) => r.route).sort()).toEqual(['project', 'topics']);
    const info = await h.json(infoKey);
    expect(info).toEqual({ project_id: victim.checkin_id, status: 'deleted', gone: true, cached_at: expect.any(String) });
    expect(Date.parse(info.cached_at)).toBeGreaterThanOrEqual(started);
    // Cached with the info's own TTL (projects-list: 2 h).
    expect(await h.redis.pttl(infoKey)).toBeGreaterThan(2 * 3_600_000 - 60_000);
    expect(await h.redis.hkeys(internalKeys.goneProjects(h.prefix))).toEqual([victim.checkin_id]);
    const status = await statusHash(h, 'topics');
    expect(status).toMatchObject({ lastResult: 'ok', runs: '2', successes: '2' });
    expect(status.failures).toBeUndefined();
    expect(status.lastError).toBeUndefined();

    // Later refreshes of every per-project job leave it out.
    h.sim.resetRequests();
    for (const job of ['topics', 'leaderboards', 'project-stats', 'daily-stats']) {
      const later = await h.run(job);
      expect(later, job).toMatchObject({ outcome: 'ok', itemsFailed: 0, itemsGone: 0 });
    }
    expect(requestsFor(h, victim.checkin_id)).toEqual([]);

    // The refreshed list no longer names it, and its gone info stays.
    expect((await h.run('projects-list')).ok).toBe(true);
    const list = await h.json(h.key('projects', 'list', 'ongoing'));
    expect(list.projects.map((p: { project_id: string }) => p.project_id)).not.toContain(victim.checkin_id);
    expect(await h.json(infoKey)).toEqual(info);
    await expectNoSecret(h);
  });

  it('counts one gone unit per variant of a per-project job with variants, and fails nothing', async () => {
    const h = await create();
    await warmAll(h);
    const victim = ongoing(h)[0]!;
    victim.deleted = true;

    const result = await h.run('leaderboards');

    expect(result).toMatchObject({ outcome: 'ok', itemsFailed: 0, itemsGone: 2, itemsOk: 2 * ongoing(h).length });
    expect((await h.json(h.key('project', victim.checkin_id, 'info'))).gone).toBe(true);
  });
});

describe('an empty answer from a project that still exists', () => {
  // Regression (fixed): jobs/daily-stats.ts's schema is `{ checkined_count: count }` and `count`
  // defaults to 0 (src/definition/schemas.ts), so `resp_data: {}` (a glitch: the
  // detail says the project exists) parses as zero check-ins and overwrites the
  // good value. The same answer fails project-stats, whose fields are required.
  it.each([
    { job: 'project-stats', route: 'statistics' as const },
    { job: 'daily-stats', route: 'daily' as const },
  ])('$job: fails the unit and keeps its value', async ({ job, route }) => {
    const h = await create();
    await warmAll(h);
    const victim = ongoing(h)[0]!;
    const before = await snapshot(h, (key) => key.startsWith(h.key('project', victim.checkin_id)));
    h.sim.fault({ route, projectId: victim.checkin_id, kind: 'deleted' });

    const result = await h.run(job);

    expect(requestsFor(h, victim.checkin_id).map((r) => r.route).sort()).toEqual(['project', route].sort());
    expect(result).toMatchObject({ outcome: 'failed', itemsFailed: 1, itemsGone: 0 });
    await expectKept(h, before);
    expect((await statusHash(h, job)).lastError).toMatch(/^ERR_REFRESH_PARTIAL: 1 of \d+ items failed; first: .*unexpected body/);
    expect(await h.redis.hkeys(internalKeys.goneProjects(h.prefix))).toEqual([]);
  });
});

describe('ids that are not decimal digits', () => {
  const SAFE_KEY = /^[A-Za-z0-9_.-]+(:[a-z0-9_-]+)+$/;

  it('never become part of a key or a request path, and the warm values stay byte-identical', async () => {
    const h = await create();
    await warmAll(h);
    const before = await snapshot(h);
    h.sim.fault({ kind: 'bad-id' });

    const results: Record<string, Awaited<ReturnType<Harness['run']>>> = {};
    for (const job of JOBS) results[job] = await h.run(job);

    // Answers that carry ids fail; statistics answers carry none and still refresh.
    for (const job of ['projects-list', 'leaderboards', 'topics']) {
      expect(results[job]!.outcome, job).toBe('failed');
      expect((await statusHash(h, job)).lastError, job).toMatch(/^ERR_[A-Z_]+: .*is not a decimal id/);
    }
    for (const job of ['project-stats', 'daily-stats']) expect(results[job]!.outcome, job).toBe('ok');
    const keys = await keysUnder(h.redis, h.prefix);
    for (const key of keys) {
      expect(key).not.toMatch(/evil|\*/);
      // The warmer's own keys start with the prefix's hash tag, `{prefix}:`.
      expect(key.replace(`{${h.prefix}}:`, `${h.prefix}:`), 'a key of the contract’s alphabet').toMatch(SAFE_KEY);
    }
    expect(h.sim.requests.filter((r) => /evil|\*|%2A/i.test(r.path))).toEqual([]);
    for (const [key, was] of before) {
      // Refreshed, as their answers hold no id: statistics, and empty lists.
      if (/:(stats|daily_stats)$/.test(key) || /":\[\]/.test(was.raw)) continue;
      expect(await h.redis.get(key), key).toBe(was.raw);
    }
    await expectNoSecret(h);
  });

  it('on a cold cache write nothing under a bad name: per-project jobs find no project to fan out over', async () => {
    const h = await create();
    h.sim.fault({ kind: 'bad-id' });

    for (const job of JOBS) expect((await h.run(job)).ok, job).toBe(false);

    const keys = await keysUnder(h.redis, h.prefix);
    expect(keys.filter((key) => /evil|\*/.test(key))).toEqual([]);
    for (const key of await h.cacheKeys()) expect(key).toMatch(/:projects:list:(ongoing|closed|over)$/);
    expect(h.sim.requests.filter((r) => r.route !== 'projects')).toEqual([]);
  });
});

describe('__proto__ in every object of every answer', () => {
  it('changes no value and pollutes no prototype', async () => {
    const h = await create();
    await warmAll(h);
    const withoutTime = async () => {
      const out = new Map<string, string>();
      for (const [key, { raw }] of await snapshot(h)) out.set(key, raw.replace(/"cached_at":"[^"]+"/, '"cached_at":"-"'));
      return out;
    };
    const clean = await withoutTime();
    h.sim.fault({ kind: 'proto' });

    for (const job of JOBS) expect((await h.run(job)).outcome, job).toBe('ok');

    expect(h.sim.requests.length).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.prototype).not.toHaveProperty('isAdmin');
    const dirty = await withoutTime();
    expect([...dirty.keys()].sort()).toEqual([...clean.keys()].sort());
    for (const [key, raw] of clean) expect(dirty.get(key), key).toBe(raw);
    for (const raw of dirty.values()) expect(raw).not.toMatch(/__proto__|polluted|isAdmin/);
  });
});
