import { describe, expect, it } from 'vitest';
import { CacheStore } from '../../src/cache/store.js';
import { FAMILIES, type FamilyName } from '../../src/reader/families.js';
import { createReader, DEFAULT_MAX_AGE_MS, KeyError, LEADERBOARD_TYPES, ReaderError, SCOPES, type Cached, type CacheReader } from '../../src/reader/index.js';
import { harnessPerTest, type Harness } from '../support/harness.js';
import { freePort } from '../support/redis-server.js';
import { redisUrl } from '../support/redis.js';
import type { SimProject } from '../support/simulator/server.js';

const create = harnessPerTest({ projects: 8 });

const JOBS = ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics'];
const MINUTE = 60_000;

/** Runs every job once, as `--once all` does, and checks each succeeded. */
async function warmAll(h: Harness): Promise<{ before: number; after: number }> {
  const before = Date.now();
  for (const job of JOBS) {
    const result = await h.run(job);
    expect(result.error?.message, `run of ${job}`).toBeUndefined();
    expect(result.ok, `run of ${job}`).toBe(true);
  }
  return { before, after: Date.now() };
}

const ongoing = (h: Harness): SimProject[] => h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);

/** Writes a value the way the daemon does: through its CacheStore, JSON with SET … EX. */
async function store(h: Harness, key: string, value: Record<string, unknown>, ttlMs = 10 * MINUTE): Promise<void> {
  await new CacheStore(h.redis, h.prefix).write([{ key, value, ttlMs }]);
}

/** The read found the key, and returns exactly what is stored, with a cached_at inside the warm and a fresh age. */
async function expectRead<T>(h: Harness, read: Cached<T> | null, key: string, warm: { before: number; after: number }): Promise<T> {
  expect(read, `read of ${key}`).not.toBeNull();
  const { data, cachedAt, ageMs, stale } = read!;
  expect(data, `data of ${key}`).toEqual(await h.json(key));
  expect(cachedAt).toBeInstanceOf(Date);
  expect(cachedAt.toISOString()).toBe((data as { cached_at: string }).cached_at);
  expect(cachedAt.getTime()).toBeGreaterThanOrEqual(warm.before);
  expect(cachedAt.getTime()).toBeLessThanOrEqual(warm.after);
  expect(ageMs).toBeGreaterThanOrEqual(0);
  expect(ageMs).toBeLessThanOrEqual(Date.now() - warm.before);
  expect(stale, `stale flag of ${key}`).toBe(false);
  return data;
}

/** Calls `read` and returns the ReaderError it throws. */
async function readerError(read: () => Promise<unknown>): Promise<ReaderError> {
  const error = await read().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the read was refused').toBeInstanceOf(ReaderError);
  return error as ReaderError;
}

describe('the typed reader', () => {
  it('reads every key family the daemon warmed, as stored, with cached_at as a Date and a fresh age', async () => {
    const h = await create();
    const warm = await warmAll(h);
    const reader = createReader(h.redis, { prefix: h.prefix });

    for (const scope of SCOPES) {
      const list = await expectRead(h, await reader.projectsList(scope), h.key('projects', 'list', scope), warm);
      expect(list.scope).toBe(scope);
      const expected = h.sim.data.projects.filter((p) => p.status === scope && !p.deleted).map((p) => p.checkin_id);
      expect(list.projects.map((p) => p.project_id).sort()).toEqual([...expected].sort());
    }

    const projects = ongoing(h);
    expect(projects.length).toBeGreaterThan(1);
    for (const p of projects) {
      const id = p.checkin_id;
      const info = await expectRead(h, await reader.projectInfo(id), h.key('project', id, 'info'), warm);
      expect(info.gone).toBeUndefined();
      if (!info.gone) expect(info.owner.user_id).toBe(p.owner.user_id);
      const stats = await expectRead(h, await reader.projectStats(id), h.key('project', id, 'stats'), warm);
      expect(stats.total_members).toBe(p.statistics.joined_count);
      for (const type of LEADERBOARD_TYPES) {
        const board = await expectRead(h, await reader.leaderboard(id, type), h.key('project', id, 'leaderboard', type), warm);
        expect(board.type).toBe(type);
        expect(board.rankings.map((r) => r.user.user_id)).toEqual(p.rankings[type].slice(0, 100).map((r) => r.user.user_id));
      }
      const daily = await expectRead(h, await reader.dailyStats(id), h.key('project', id, 'daily_stats'), warm);
      expect(daily.date).toMatch(/^\d{4}-\d\d-\d\d$/);
      const topics = await expectRead(h, await reader.topics(id), h.key('project', id, 'topics'), warm);
      expect(topics.project_id).toBe(id);
    }
  });

  it('keeps ids as strings with their exact digits, also beyond 2^53', async () => {
    const h = await create();
    await warmAll(h);
    const reader = createReader(h.redis, { prefix: h.prefix });

    const project = ongoing(h).find((p) => p.topics.length > 0)!;
    const newest = [...project.topics].sort((a, b) => (a.create_time < b.create_time ? 1 : -1))[0]!;
    expect(BigInt(newest.topic_id) > 2n ** 53n, 'the simulator makes the newest topic id exceed 2^53').toBe(true);
    const topics = (await reader.topics(project.checkin_id))!.data.topics;
    expect(topics[0]!.topic_id).toBe(newest.topic_id);
    expect(typeof topics[0]!.topic_id).toBe('string');
    // What a number would have made of it: a different id.
    expect(String(Number(newest.topic_id))).not.toBe(newest.topic_id);

    // The largest id a key allows (20 digits, above 2^64), written as the daemon writes values.
    const big = '18446744073709551615';
    const bigTopic = '82811825141841812';
    await store(h, h.key('project', big, 'topics'), {
      project_id: big,
      topics: [{ topic_id: bigTopic, title: '', text: '', create_time: '2025-01-15T18:30:00.000+0800', user: null, likes_count: 0, comments_count: 0, reading_count: 0 }],
      cached_at: new Date().toISOString(),
    });
    const read = (await reader.topics(big))!;
    expect(read.data.project_id).toBe(big);
    expect(read.data.topics[0]!.topic_id).toBe(bigTopic);
    expect(read.data.topics[0]!.user).toBeNull();
  });

  it('answers null for every family when the key is missing', async () => {
    const h = await create();
    const reader = createReader(h.redis, { prefix: h.prefix });
    const id = '2424141521';
    const reads: Array<[string, Promise<unknown>]> = [
      ...SCOPES.map((s): [string, Promise<unknown>] => [`projectsList ${s}`, reader.projectsList(s)]),
      ['projectInfo', reader.projectInfo(id)],
      ['projectStats', reader.projectStats(id)],
      ...LEADERBOARD_TYPES.map((t): [string, Promise<unknown>] => [`leaderboard ${t}`, reader.leaderboard(id, t)]),
      ['dailyStats', reader.dailyStats(id)],
      ['topics', reader.topics(id)],
    ];
    for (const [what, read] of reads) expect(await read, what).toBeNull();

    // Present under another prefix is still missing under ours.
    await store(h, h.key('project', id, 'stats'), { project_id: id, total_members: 1, completed_members: 0, total_checkins: 1, cached_at: new Date().toISOString() });
    expect(await reader.projectStats(id)).not.toBeNull();
    expect(await createReader(h.redis, { prefix: `${h.prefix}x` }).projectStats(id)).toBeNull();
  });

  it('reads a project deleted upstream as gone, in the shape the projects-list job caches it', async () => {
    const h = await create();
    const reader = createReader(h.redis, { prefix: h.prefix });
    const provider = h.jobs.find((j) => j.providesProjects)!.providesProjects!;
    const output = provider.gone('1234567890', new Date().toISOString());
    await store(h, h.key('project', '1234567890', 'info'), output.value as Record<string, unknown>);
    const read = (await reader.projectInfo('1234567890'))!;
    expect(read.data).toMatchObject({ project_id: '1234567890', status: 'deleted', gone: true });
  });

  it('refuses a value that is not the contract’s JSON with ERR_READER_BAD_VALUE, naming the key and field, never the content', async () => {
    const h = await create();
    const reader = createReader(h.redis, { prefix: h.prefix });
    const id = '2424141521';
    const key = h.key('project', id, 'topics');
    const now = new Date().toISOString();
    // The token stands for anything a foreign writer might have put in the value.
    const marker = h.token;
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', `{"project_id":"${id}","topics":[${marker}`, /value is not JSON/],
      ['a JSON list', `["${marker}"]`, /value is not a JSON object/],
      ['no cached_at', JSON.stringify({ project_id: id, topics: [], note: marker }), /cached_at is not an ISO-8601 instant/],
      ['cached_at not a date', JSON.stringify({ project_id: id, topics: [], cached_at: marker }), /cached_at is not an ISO-8601 instant/],
      ['a numeric topic id', `{"project_id":"${id}","topics":[{"topic_id":82811825141841812,"user":null,"title":"${marker}"}],"cached_at":"${now}"}`, /topics\[0\]\.topic_id is not a decimal id string/],
      ['a numeric project id', `{"project_id":${id},"topics":[],"cached_at":"${now}"}`, /project_id is not a decimal id string/],
      ['another project’s value', JSON.stringify({ project_id: '99', topics: [], cached_at: now }), /project_id is not "2424141521"/],
      ['topics not a list', JSON.stringify({ project_id: id, topics: { marker }, cached_at: now }), /topics is not a list/],
      ['a user without an id', JSON.stringify({ project_id: id, topics: [{ topic_id: '1', user: { name: marker } }], cached_at: now }), /topics\[0\]\.user\.user_id is not a decimal id string/],
    ];
    for (const [what, raw, problem] of cases) {
      await h.redis.set(key, raw, 'EX', 60);
      const error = await readerError(() => reader.topics(id));
      expect(error.code, what).toBe('ERR_READER_BAD_VALUE');
      expect(error.key, what).toBe(key);
      expect(error.message, what).toContain(key);
      expect(error.message, what).toMatch(problem);
      expect(error.message, what).not.toContain(marker);
      expect(JSON.stringify(error), what).not.toContain(marker);
    }

    // A key of another type (a hash) is not a value either.
    await h.redis.del(key);
    await h.redis.hset(key, 'cached_at', now);
    const wrongType = await readerError(() => reader.topics(id));
    expect(wrongType).toMatchObject({ code: 'ERR_READER_BAD_VALUE', key });
    expect(wrongType.message).toContain('is not a string key');

    // Checked against the key it was read from: a list of another scope, a leaderboard of another type.
    await store(h, h.key('projects', 'list', 'closed'), { scope: 'ongoing', projects: [], total: 0, cached_at: now });
    expect((await readerError(() => reader.projectsList('closed'))).message).toMatch(/scope is not "closed"/);
    await store(h, h.key('project', id, 'leaderboard', 'accumulated'), { project_id: id, type: 'continuous', rankings: [], total: 0, cached_at: now });
    expect((await readerError(() => reader.leaderboard(id, 'accumulated'))).message).toMatch(/type is not "accumulated"/);
    await store(h, h.key('project', id, 'info'), { project_id: id, title: 't', cached_at: now });
    expect((await readerError(() => reader.projectInfo(id))).message).toMatch(/owner is not a JSON object/);
    await store(h, h.key('project', id, 'daily_stats'), { project_id: id, date: 'today', total_checkins: 1, cached_at: now });
    expect((await readerError(() => reader.dailyStats(id))).message).toMatch(/date is not YYYY-MM-DD/);
  });

  it('flags a value stale once it is older than its family’s cadence, or than the max age given', async () => {
    const h = await create();
    await warmAll(h);
    const id = ongoing(h)[0]!.checkin_id;
    const key = h.key('project', id, 'topics');
    const fresh = await h.json(key);
    // The same data, fetched six minutes ago: older than topics' 5-minute cadence.
    const sixMinutesAgo = Date.now() - 6 * MINUTE;
    await store(h, key, { ...fresh, cached_at: new Date(sixMinutesAgo).toISOString() });

    const reader = createReader(h.redis, { prefix: h.prefix });
    const old = (await reader.topics(id))!;
    expect(old.stale).toBe(true);
    expect(old.cachedAt.getTime()).toBe(sixMinutesAgo);
    expect(old.ageMs).toBeGreaterThanOrEqual(6 * MINUTE);
    expect(old.ageMs).toBeLessThan(6 * MINUTE + 10_000);
    expect(old.data.topics).toEqual(fresh.topics);

    expect((await reader.topics(id, { maxAgeMs: 10 * MINUTE }))!.stale, 'max age of the call').toBe(false);
    expect((await createReader(h.redis, { prefix: h.prefix, maxAgeMs: { topics: 10 * MINUTE } }).topics(id))!.stale, 'max age of the reader').toBe(false);
    // A reader setting for one family leaves the others at their defaults.
    expect((await createReader(h.redis, { prefix: h.prefix, maxAgeMs: { projectStats: 10 * MINUTE } }).topics(id))!.stale).toBe(true);

    // Six minutes is fresh for the families refreshed every 15 minutes or less often.
    expect((await reader.projectStats(id))!.stale).toBe(false);
    // Warmed well over a millisecond ago: above a max age of 0.
    const strict = (await reader.projectStats(id, { maxAgeMs: 0 }))!;
    expect(strict.ageMs).toBeGreaterThan(0);
    expect(strict.stale).toBe(true);
    await expect(reader.topics(id, { maxAgeMs: -1 })).rejects.toThrow(RangeError);
    expect(() => createReader(h.redis, { maxAgeMs: { topics: Number.NaN } })).toThrow(RangeError);
  });

  it('uses the key templates of the jobs, and their default cadences as default max ages', async () => {
    const h = await create();
    for (const [name, family] of Object.entries(FAMILIES) as Array<[FamilyName, (typeof FAMILIES)[FamilyName]]>) {
      const job = h.jobs.find((j) => Object.values(j.keys).some((k) => k.template === family.key.template));
      expect(job, `a job writing ${family.key.template}`).toBeDefined();
      expect(DEFAULT_MAX_AGE_MS[name], `default max age of ${name}`).toBe(job!.defaults.everyMs);
    }
    const written = h.jobs.flatMap((j) => Object.values(j.keys).map((k) => k.template)).sort();
    expect(Object.values(FAMILIES).map((f) => f.key.template).sort()).toEqual(written);
  });

  it('refuses an id, scope, type or prefix a key does not allow, before sending anything', async () => {
    // Nothing listens on this port: a refusal that reached Redis would be a connection error, not a KeyError.
    const reader = createReader(`redis://127.0.0.1:${await freePort()}`, { redisOptions: { lazyConnect: true } });
    try {
      const refusals: Array<[string, () => Promise<unknown>]> = [
        ['a non-decimal id', () => reader.topics('12a')],
        ['an id with a key separator', () => reader.projectStats('1:2')],
        ['a glob as id', () => reader.projectInfo('*')],
        ['an unknown scope', () => reader.projectsList('ongoign' as never)],
        ['an unknown leaderboard type', () => reader.leaderboard('1', 'weekly' as never)],
      ];
      for (const [what, read] of refusals) {
        const error = await read().then(() => undefined, (e: unknown) => e);
        expect(error, what).toBeInstanceOf(KeyError);
        expect((error as KeyError).code, what).toBe('ERR_KEY_INVALID');
      }
      expect(() => createReader(redisUrl(), { prefix: 'has space', redisOptions: { lazyConnect: true } })).toThrow(KeyError);
      expect(() => createReader(redisUrl(), { prefix: '', redisOptions: { lazyConnect: true } })).toThrow(KeyError);
    } finally {
      await reader.close();
    }
  });

  it('opened from a URL, it reads and closes its own connection; a client passed in stays open', async () => {
    const h = await create();
    await warmAll(h);
    const id = ongoing(h)[0]!.checkin_id;
    // Named after the prefix: the harness's cleanup fails the test if this connection is left open.
    const name = `cache-warmer:reader:${h.prefix}`;
    const own: CacheReader = createReader(redisUrl(), { prefix: h.prefix, redisOptions: { connectionName: name } });
    expect((await own.topics(id))!.data).toEqual(await h.json(h.key('project', id, 'topics')));
    expect(String(await h.redis.client('LIST'))).toContain(`name=${name}`);
    await own.close();
    const deadline = Date.now() + 2_000;
    let listed = true;
    for (let i = 0; i < 100 && Date.now() < deadline && listed; i += 1) {
      listed = String(await h.redis.client('LIST')).includes(`name=${name}`);
      if (listed) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(listed, 'the reader’s own connection is still open').toBe(false);

    const borrowed = createReader(h.redis, { prefix: h.prefix });
    expect(await borrowed.topics(id)).not.toBeNull();
    await borrowed.close();
    expect(h.redis.status).toBe('ready');
    expect(await h.redis.ping()).toBe('PONG');
  });
});
