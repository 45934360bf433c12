import { describe, expect, it } from 'vitest';
import { harnessPerTest, type Harness } from '../support/harness.js';
import type { RankingType, Scope, SimProject, SimUser } from '../support/simulator/server.js';

const create = harnessPerTest({ projects: 12 });

const SCOPES: Scope[] = ['ongoing', 'closed', 'over'];
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UPSTREAM_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0800$/;

const listed = (h: Harness, scope: Scope): SimProject[] => h.sim.data.projects.filter((p) => p.status === scope && !p.deleted);
const contractUser = (u: SimUser) => ({ user_id: u.user_id, name: u.name, avatar_url: u.avatar_url });
const members = (p: SimProject) => ({
  total_members: p.statistics.joined_count,
  completed_members: p.statistics.completed_count,
  today_checkins: p.statistics.today_checkined_count,
});
/** Projects the simulator answers empty leaderboards and topics for. */
const isEmpty = (p: SimProject) => p.topics.length === 0 && p.rankings.continuous.length === 0 && p.rankings.accumulated.length === 0;

/** Runs a job and checks it succeeded and that every value it wrote shares one cached_at inside the run. */
async function runOk(h: Harness, job: string) {
  const before = Date.now();
  const result = await h.run(job);
  const after = Date.now();
  expect(result.error?.message).toBeUndefined();
  expect(result).toMatchObject({ job, ok: true, itemsFailed: 0 });
  return { result, before, after };
}

function expectCachedAt(value: { cached_at?: unknown }, before: number, after: number): void {
  expect(value.cached_at).toMatch(ISO_UTC);
  const at = Date.parse(String(value.cached_at));
  expect(at).toBeGreaterThanOrEqual(before);
  expect(at).toBeLessThanOrEqual(after);
}

/** The key's TTL is the configured one (whole seconds, minus what elapsed since the write). */
async function expectTtl(h: Harness, key: string, ttlMs: number): Promise<void> {
  const pttl = await h.redis.pttl(key);
  expect(pttl, `PTTL of ${key}`).toBeLessThanOrEqual(ttlMs);
  expect(pttl, `PTTL of ${key}`).toBeGreaterThan(ttlMs - 10_000);
}

async function warmList(h: Harness): Promise<string[]> {
  await runOk(h, 'projects-list');
  return h.cacheKeys();
}

/** The keys a job added to a cache that held only the warmed lists. */
async function addedKeys(h: Harness, before: readonly string[]): Promise<string[]> {
  const known = new Set(before);
  return (await h.cacheKeys()).filter((k) => !known.has(k));
}

describe('projects-list', () => {
  it('writes the three scope lists and the info of every listed project, matching the upstream, with the data TTL', async () => {
    const h = await create();
    for (const scope of SCOPES) expect(listed(h, scope).length, `projects in scope ${scope}`).toBeGreaterThan(0);
    const { result, before, after } = await runOk(h, 'projects-list');

    const all = h.sim.data.projects;
    const expectedKeys = [...SCOPES.map((s) => h.key('projects', 'list', s)), ...all.map((p) => h.key('project', p.checkin_id, 'info'))].sort();
    expect(await h.cacheKeys()).toEqual(expectedKeys);
    expect(result).toMatchObject({ keysWritten: expectedKeys.length, itemsOk: 3 });
    const plan = h.plan('projects-list');

    for (const scope of SCOPES) {
      const key = h.key('projects', 'list', scope);
      const value = await h.json(key);
      const projects = listed(h, scope);
      expect(value).toEqual({
        scope,
        projects: projects.map((p) => ({
          project_id: p.checkin_id,
          title: p.title,
          status: p.status,
          type: p.type,
          ...members(p),
          create_time: p.create_time,
        })),
        total: projects.length,
        cached_at: expect.any(String),
      });
      expectCachedAt(value, before, after);
      await expectTtl(h, key, plan.ttlMs);
    }
    for (const p of all) {
      const key = h.key('project', p.checkin_id, 'info');
      const value = await h.json(key);
      expect(value).toEqual({
        project_id: p.checkin_id,
        title: p.title,
        text: p.text,
        status: p.status,
        type: p.type,
        checkin_days: p.checkin_days,
        min_words_count: p.min_words_count,
        create_time: p.create_time,
        expiration_time: p.validity.long_period ? null : p.validity.expiration_time,
        owner: contractUser(p.owner),
        ...members(p),
        cached_at: expect.any(String),
      });
      expectCachedAt(value, before, after);
      await expectTtl(h, key, plan.ttlMs);
    }
    expect(h.plan('projects-list').ttlMs).toBe(2 * 3_600_000);
  });

  it('caches an empty scope as an empty list with the shorter TTL', async () => {
    const h = await create();
    for (const p of listed(h, 'over')) p.deleted = true;
    await runOk(h, 'projects-list');

    const key = h.key('projects', 'list', 'over');
    expect(await h.json(key)).toEqual({ scope: 'over', projects: [], total: 0, cached_at: expect.stringMatching(ISO_UTC) });
    const plan = h.plan('projects-list');
    expect(plan.emptyTtlMs).toBeLessThan(plan.ttlMs);
    await expectTtl(h, key, plan.emptyTtlMs);
    await expectTtl(h, h.key('projects', 'list', 'ongoing'), plan.ttlMs);
    const infos = (await h.cacheKeys()).filter((k) => k.endsWith(':info'));
    expect(infos).toHaveLength(h.sim.data.projects.filter((p) => !p.deleted).length);
  });

  it('reads a scope of more than 100 projects page by page, with the last create_time as the cursor', async () => {
    const h = await create({ projects: 250 });
    const ongoing = listed(h, 'ongoing');
    expect(ongoing.length).toBeGreaterThan(100);
    expect(ongoing.length).toBeLessThan(200);
    await runOk(h, 'projects-list');

    const value = await h.json(h.key('projects', 'list', 'ongoing'));
    expect(value.total).toBe(ongoing.length);
    expect(value.projects.map((p: { project_id: string }) => p.project_id)).toEqual(ongoing.map((p) => p.checkin_id));
    const pages = h.sim.requests.filter((r) => r.route === 'projects' && r.query.scope === 'ongoing');
    expect(pages.map((r) => r.query.end_time)).toEqual([undefined, ongoing[99]!.create_time]);
    expect(pages.every((r) => r.status === 200 && r.query.count === '100')).toBe(true);
    const infos = (await h.cacheKeys()).filter((k) => k.endsWith(':info'));
    expect(infos).toHaveLength(250);
  });
});

describe('project-stats', () => {
  it('writes the stats of every ongoing project and no other key', async () => {
    const h = await create();
    const warm = await warmList(h);
    const { result, before, after } = await runOk(h, 'project-stats');

    const ongoing = listed(h, 'ongoing');
    expect(await addedKeys(h, warm)).toEqual(ongoing.map((p) => h.key('project', p.checkin_id, 'stats')).sort());
    expect(result).toMatchObject({ keysWritten: ongoing.length, itemsOk: ongoing.length });
    for (const p of ongoing) {
      const key = h.key('project', p.checkin_id, 'stats');
      const value = await h.json(key);
      expect(value).toEqual({
        project_id: p.checkin_id,
        total_members: p.stats.joined_count,
        completed_members: p.stats.completed_count,
        total_checkins: p.stats.checkined_count,
        cached_at: expect.any(String),
      });
      expectCachedAt(value, before, after);
      await expectTtl(h, key, h.plan('project-stats').ttlMs);
    }
  });
});

describe('leaderboards', () => {
  it('writes both leaderboards of every ongoing project, best first and at most 100, following index pages until an empty page', async () => {
    const h = await create();
    const ongoing = listed(h, 'ongoing');
    const lengths = ongoing.flatMap((p) => [p.rankings.continuous.length, p.rankings.accumulated.length]);
    expect(lengths.some((n) => n > 100), 'a leaderboard longer than 100').toBe(true);
    expect(lengths.some((n) => n > 0 && n < 100), 'a leaderboard shorter than 100').toBe(true);
    expect(ongoing.some(isEmpty), 'an ongoing project with empty leaderboards').toBe(true);
    const warm = await warmList(h);
    h.sim.resetRequests();
    const { result, before, after } = await runOk(h, 'leaderboards');

    const types: RankingType[] = ['continuous', 'accumulated'];
    const expectedKeys = ongoing.flatMap((p) => types.map((t) => h.key('project', p.checkin_id, 'leaderboard', t))).sort();
    expect(await addedKeys(h, warm)).toEqual(expectedKeys);
    expect(result).toMatchObject({ keysWritten: expectedKeys.length, itemsOk: expectedKeys.length });
    const plan = h.plan('leaderboards');
    const size = h.sim.options.rankingPageSize;

    for (const p of ongoing) {
      for (const type of types) {
        const key = h.key('project', p.checkin_id, 'leaderboard', type);
        const value = await h.json(key);
        const full = p.rankings[type];
        const top = full.slice(0, 100);
        expect(value).toEqual({
          project_id: p.checkin_id,
          type,
          rankings: top.map((r) => ({ rank: r.rankings, user: contractUser(r.user), days: r.checkined_days })),
          total: top.length,
          cached_at: expect.any(String),
        });
        expectCachedAt(value, before, after);
        const ranks = value.rankings.map((r: { rank: number }) => r.rank);
        expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
        expect(JSON.stringify(value)).not.toContain(h.sim.data.me.user_id);
        await expectTtl(h, key, full.length === 0 ? plan.emptyTtlMs : plan.ttlMs);

        const indexes = h.sim.requests
          .filter((r) => r.route === 'ranking' && r.path.includes(`/checkins/${p.checkin_id}/`) && r.query.type === type)
          .map((r) => Number(r.query.index));
        const pages = full.length >= 100 ? Math.ceil(100 / size) : Math.ceil(full.length / size) + 1;
        expect(indexes, `pages of ${p.checkin_id} ${type} (${full.length} rankings)`).toEqual(Array.from({ length: pages }, (_, i) => i));
      }
    }
    expect(plan.emptyTtlMs).toBeLessThan(plan.ttlMs);
  });
});

describe('daily-stats', () => {
  it('writes today’s check-ins of every ongoing project under the group’s local date', async () => {
    const h = await create();
    const warm = await warmList(h);
    h.sim.resetRequests();
    const { result, before, after } = await runOk(h, 'daily-stats');

    const ongoing = listed(h, 'ongoing');
    expect(await addedKeys(h, warm)).toEqual(ongoing.map((p) => h.key('project', p.checkin_id, 'daily_stats')).sort());
    expect(result.keysWritten).toBe(ongoing.length);
    for (const p of ongoing) {
      const key = h.key('project', p.checkin_id, 'daily_stats');
      const value = await h.json(key);
      expectCachedAt(value, before, after);
      // Asia/Shanghai has no daylight saving time: its local day is UTC+8's.
      const localDay = new Date(Date.parse(value.cached_at) + 8 * 3_600_000).toISOString().slice(0, 10);
      expect(value).toEqual({ project_id: p.checkin_id, date: localDay, total_checkins: p.daily.checkined_count, cached_at: value.cached_at });
      await expectTtl(h, key, h.plan('daily-stats').ttlMs);
    }
    const daily = h.sim.requests.filter((r) => r.route === 'daily');
    expect(daily).toHaveLength(ongoing.length);
    for (const request of daily) {
      expect(request.status).toBe(200);
      expect(request.query.date).toMatch(UPSTREAM_TIME);
    }
  });
});

describe('topics', () => {
  it('writes the 20 latest topics newest first with ids exact beyond 2^53, and empty lists with the shorter TTL', async () => {
    const h = await create();
    const ongoing = listed(h, 'ongoing');
    expect(ongoing.some((p) => p.topics.length > 20), 'a project with more than 20 topics').toBe(true);
    expect(ongoing.some((p) => p.topics.length === 0), 'an ongoing project without topics').toBe(true);
    const warm = await warmList(h);
    const { result, before, after } = await runOk(h, 'topics');

    expect(await addedKeys(h, warm)).toEqual(ongoing.map((p) => h.key('project', p.checkin_id, 'topics')).sort());
    expect(result.keysWritten).toBe(ongoing.length);
    const plan = h.plan('topics');
    let beyondSafe = 0;
    for (const p of ongoing) {
      const key = h.key('project', p.checkin_id, 'topics');
      const raw = (await h.redis.get(key))!;
      const value = JSON.parse(raw);
      const latest = p.topics.slice(0, 20);
      expect(value).toEqual({
        project_id: p.checkin_id,
        topics: latest.map((t) => ({
          topic_id: t.topic_id,
          title: t.text.slice(0, 20),
          text: t.text,
          create_time: t.create_time,
          user: contractUser(t.owner),
          likes_count: t.likes_count,
          comments_count: t.comments_count,
          reading_count: t.reading_count,
        })),
        cached_at: expect.any(String),
      });
      expectCachedAt(value, before, after);
      for (const t of latest) {
        // The raw text, not a parse of it: a lossy parser could not tell the digits apart.
        expect(raw).toContain(`"topic_id":"${t.topic_id}"`);
        if (BigInt(t.topic_id) > 2n ** 53n) beyondSafe += 1;
      }
      const times = value.topics.map((t: { create_time: string }) => t.create_time);
      expect(times).toEqual([...times].sort().reverse());
      await expectTtl(h, key, latest.length === 0 ? plan.emptyTtlMs : plan.ttlMs);
    }
    expect(beyondSafe).toBeGreaterThan(0);
  });
});

describe('fan-out', () => {
  it.each(['project-stats', 'leaderboards', 'daily-stats', 'topics'])(
    '%s on an empty cache fetches the ongoing projects list first and warms it',
    async (job) => {
      const h = await create();
      await runOk(h, job);

      const lists = h.sim.requests.filter((r) => r.route === 'projects');
      expect(lists.map((r) => r.query.scope)).toEqual(['ongoing']);
      const keys = await h.cacheKeys();
      const ongoing = listed(h, 'ongoing');
      expect(keys).toContain(h.key('projects', 'list', 'ongoing'));
      expect(keys).not.toContain(h.key('projects', 'list', 'closed'));
      for (const p of ongoing) expect(keys).toContain(h.key('project', p.checkin_id, 'info'));
      const perProject = new Set(keys.filter((k) => !k.endsWith(':info') && k.includes(':project:')).map((k) => k.split(':')[2]));
      expect([...perProject].sort()).toEqual(ongoing.map((p) => p.checkin_id).sort());
    },
  );

  it('the four per-project jobs started together on an empty cache fetch the ongoing list once between them', async () => {
    // Latency keeps the first fetch in flight while the other three ask for the list.
    const h = await create({ simulator: { latencyMs: 30 } });
    const jobs = ['project-stats', 'leaderboards', 'daily-stats', 'topics'];
    await Promise.all(jobs.map((job) => runOk(h, job)));
    expect(h.sim.requests.filter((r) => r.route === 'projects').map((r) => r.query.scope)).toEqual(['ongoing']);
    const keys = await h.cacheKeys();
    for (const p of listed(h, 'ongoing')) {
      for (const suffix of ['info', 'stats', 'daily_stats', 'topics']) expect(keys).toContain(h.key('project', p.checkin_id, suffix));
    }

    // Shared while in flight only: once the list is gone, the next run fetches it again.
    await h.redis.del(h.key('projects', 'list', 'ongoing'));
    h.sim.resetRequests();
    await runOk(h, 'topics');
    expect(h.sim.count('projects')).toBe(1);
  });

  it('projects-list and a per-project job started together on an empty cache fetch each scope once between them', async () => {
    const h = await create({ simulator: { latencyMs: 30 } });
    const [list, topics] = await Promise.all([runOk(h, 'projects-list'), runOk(h, 'topics')]);
    expect(h.sim.requests.filter((r) => r.route === 'projects').map((r) => r.query.scope).sort()).toEqual(['closed', 'ongoing', 'over']);
    // projects-list still reports (and wrote) every key of its three scopes.
    expect(list.result.keysWritten).toBe(SCOPES.length + h.sim.data.projects.length);
    expect(topics.result.itemsOk).toBe(listed(h, 'ongoing').length);
    const keys = await h.cacheKeys();
    for (const scope of SCOPES) expect(keys).toContain(h.key('projects', 'list', scope));
    for (const p of listed(h, 'ongoing')) {
      for (const suffix of ['info', 'topics']) expect(keys).toContain(h.key('project', p.checkin_id, suffix));
    }
  });

  it('a failed shared fetch of the list fails every waiting job, and the next run fetches it again', async () => {
    const h = await create({ simulator: { latencyMs: 30 } });
    h.sim.fault({ route: 'projects', kind: 'envelope', code: 14210, times: 1 });
    const results = await Promise.all(['project-stats', 'topics'].map((job) => h.run(job)));
    for (const result of results) expect(result.ok).toBe(false);
    expect(h.sim.count('projects')).toBe(1);

    await runOk(h, 'topics');
    expect(h.sim.count('projects')).toBe(2);
  });

  it('a per-project job follows the warm list without asking the upstream for it again', async () => {
    const h = await create();
    await warmList(h);
    h.sim.resetRequests();
    await runOk(h, 'topics');
    expect(h.sim.count('projects')).toBe(0);
    expect(h.sim.count('topics')).toBe(listed(h, 'ongoing').length);
  });

  it('PROJECT_SCOPES=ongoing,closed widens the fan-out to the closed projects, and only to them', async () => {
    const h = await create({ env: { PROJECT_SCOPES: 'ongoing,closed' } });
    expect(h.config.projects.scopes).toEqual(['ongoing', 'closed']);
    const warm = await warmList(h);
    h.sim.resetRequests();
    const { result } = await runOk(h, 'project-stats');

    const wanted = [...listed(h, 'ongoing'), ...listed(h, 'closed')];
    expect(listed(h, 'over').length).toBeGreaterThan(0);
    expect(await addedKeys(h, warm)).toEqual(wanted.map((p) => h.key('project', p.checkin_id, 'stats')).sort());
    expect(result.itemsOk).toBe(wanted.length);
    expect(h.sim.count('projects')).toBe(0);
  });

  it('PROJECT_SCOPES=ongoing,closed on an empty cache fetches exactly those two lists', async () => {
    const h = await create({ env: { PROJECT_SCOPES: 'ongoing,closed' } });
    await runOk(h, 'daily-stats');
    expect(h.sim.requests.filter((r) => r.route === 'projects').map((r) => r.query.scope).sort()).toEqual(['closed', 'ongoing']);
    const daily = (await h.cacheKeys()).filter((k) => k.endsWith(':daily_stats'));
    expect(daily).toHaveLength(listed(h, 'ongoing').length + listed(h, 'closed').length);
  });
});
