import { describe, expect, it } from 'vitest';
import dailyStats from '../../jobs/daily-stats.js';
import leaderboards from '../../jobs/leaderboards.js';
import projectStats from '../../jobs/project-stats.js';
import projectsList from '../../jobs/projects-list.js';
import topics from '../../jobs/topics.js';
import { loadJobs } from '../../src/definition/load.js';
import { parseJob } from '../../src/definition/parse.js';
import type { Output, UnitContext } from '../../src/definition/types.js';
import { parseUpstreamJson } from '../../src/upstream/json.js';

const GID = '15555411412112';
const PID = '2424141521';
const NOW = new Date('2025-12-10T08:27:42.892Z');
const CACHED_AT = NOW.toISOString();

function unit(extra: Partial<UnitContext & { cachedAt: string }> = {}): UnitContext & { cachedAt: string } {
  return { groupId: GID, now: NOW, timeZone: 'Asia/Shanghai', cachedAt: CACHED_AT, ...extra };
}

/** The Redis key an output goes to, built with the job's own templates. */
function keyOf(job: Parameters<typeof parseJob>[0], output: Output, prefix = 'zsxq'): string {
  const parsed = parseJob(job, 'jobs/under-test.ts');
  return parsed.keys[output.key]!.build(prefix, output.params);
}

/** resp_data as the client sees it: parsed from JSON text without losing digits. */
const body = (text: string) => parseUpstreamJson(text);

const checkinJson = (id: string, over: { create_time?: string; validity?: string; statistics?: string; title?: string } = {}) => `{
  "checkin_id": ${id},
  "group": { "group_id": ${GID}, "name": "示例星球", "background_url": "https://images.example/bg" },
  "owner": { "user_id": 582884445452854, "name": "星主", "avatar_url": "https://images.example/a", "description": "…" },
  "title": "${over.title ?? '新手实战指南'}", "text": "打卡规则……",
  "checkin_days": 21,
  "validity": ${over.validity ?? '{ "long_period": true, "expiration_time": "" }'},
  "show_topics_on_timeline": false,
  "create_time": "${over.create_time ?? '2025-12-08T10:58:10.369+0800'}",
  "status": "ongoing", "type": "accumulated",
  "joined_count": 34,
  "statistics": ${over.statistics ?? '{ "joined_count": 34, "completed_count": 0, "today_checkined_count": 3 }'},
  "joined_users": [ { "avatar_url": "https://images.example/u1" } ],
  "user_specific": { "joined": false },
  "min_words_count": 20
}`;

const owner = { user_id: '582884445452854', name: '星主', avatar_url: 'https://images.example/a' };

describe('loadJobs', () => {
  it('finds exactly the five shipped job files and parses each', async () => {
    const jobs = await loadJobs();
    expect(jobs.map((j) => j.name)).toEqual(['daily-stats', 'leaderboards', 'project-stats', 'projects-list', 'topics']);
    expect(jobs.map((j) => j.file)).toEqual([
      'jobs/daily-stats.ts',
      'jobs/leaderboards.ts',
      'jobs/project-stats.ts',
      'jobs/projects-list.ts',
      'jobs/topics.ts',
    ]);
    for (const job of jobs) expect(Object.isFrozen(job), job.name).toBe(true);
  });

  it('lets only projects-list provide the project ids, from its list key', async () => {
    const providers = (await loadJobs()).filter((j) => j.providesProjects);
    expect(providers.map((j) => [j.name, j.providesProjects!.key])).toEqual([['projects-list', 'list']]);
  });

  it('declares the contract’s default cadences and TTLs, with an empty TTL of one refresh interval', async () => {
    const defaults = Object.fromEntries((await loadJobs()).map((j) => [j.name, j.defaults]));
    expect(defaults).toStrictEqual({
      'projects-list': { everyMs: 3_600_000, ttlMs: 7_200_000, emptyTtlMs: 3_600_000 },
      'project-stats': { everyMs: 1_800_000, ttlMs: 3_600_000, emptyTtlMs: 1_800_000 },
      leaderboards: { everyMs: 1_800_000, ttlMs: 3_600_000, emptyTtlMs: 1_800_000 },
      'daily-stats': { everyMs: 900_000, alsoAt: '5 0 0 * * *', ttlMs: 1_800_000, emptyTtlMs: 900_000 },
      topics: { everyMs: 300_000, ttlMs: 600_000, emptyTtlMs: 300_000 },
    });
  });

  it('fans projects-list out over the group and every other job over projects', async () => {
    const fanOut = Object.fromEntries((await loadJobs()).map((j) => [j.name, [j.fanOut, j.variants]]));
    expect(fanOut).toStrictEqual({
      'projects-list': ['group', ['ongoing', 'closed', 'over']],
      'project-stats': ['projects', undefined],
      leaderboards: ['projects', ['continuous', 'accumulated']],
      'daily-stats': ['projects', undefined],
      topics: ['projects', undefined],
    });
  });
});

describe('projects-list', () => {
  const ongoing = unit({ variant: 'ongoing' });

  it('asks for one full page of the scope', () => {
    expect(projectsList.request(unit({ variant: 'closed' }))).toEqual({
      path: `/v2/groups/${GID}/checkins`,
      query: { scope: 'closed', count: 100 },
    });
  });

  it('writes one list and one info per listed project, with exact contract fields', () => {
    const page = projectsList.response.parse(body(`{ "checkins": [ ${checkinJson('2424141521')}, ${checkinJson('82811825141841812', {
      create_time: '2025-11-01T09:00:00.000+0800',
      validity: '{ "long_period": false, "expiration_time": "2026-01-31T23:59:59.000+0800" }',
      statistics: '{ "joined_count": 50, "completed_count": 7, "today_checkined_count": 12 }',
      title: '第二期',
    })} ] }`));
    const outputs = projectsList.map([page], ongoing);
    expect(outputs.map((o) => keyOf(projectsList, o))).toEqual([
      'zsxq:projects:list:ongoing',
      'zsxq:project:2424141521:info',
      'zsxq:project:82811825141841812:info',
    ]);
    expect(outputs[0]).toStrictEqual({
      key: 'list',
      params: { scope: 'ongoing' },
      value: {
        scope: 'ongoing',
        projects: [
          { project_id: '2424141521', title: '新手实战指南', status: 'ongoing', type: 'accumulated', total_members: 34, completed_members: 0, today_checkins: 3, create_time: '2025-12-08T10:58:10.369+0800' },
          { project_id: '82811825141841812', title: '第二期', status: 'ongoing', type: 'accumulated', total_members: 50, completed_members: 7, today_checkins: 12, create_time: '2025-11-01T09:00:00.000+0800' },
        ],
        total: 2,
        cached_at: CACHED_AT,
      },
      empty: false,
    });
    expect(outputs[1]).toStrictEqual({
      key: 'info',
      params: { id: '2424141521' },
      value: {
        project_id: '2424141521',
        title: '新手实战指南',
        text: '打卡规则……',
        status: 'ongoing',
        type: 'accumulated',
        checkin_days: 21,
        min_words_count: 20,
        create_time: '2025-12-08T10:58:10.369+0800',
        expiration_time: null,
        owner,
        total_members: 34,
        completed_members: 0,
        today_checkins: 3,
        cached_at: CACHED_AT,
      },
      empty: false,
    });
    expect(outputs[2]!.value.expiration_time).toBe('2026-01-31T23:59:59.000+0800');
    expect(outputs[2]!.value.project_id).toBe('82811825141841812');
  });

  it('never caches user_specific, the group or the joined users', () => {
    const page = projectsList.response.parse(body(`{ "checkins": [ ${checkinJson(PID)} ] }`));
    const text = JSON.stringify(projectsList.map([page], ongoing));
    expect(text).not.toContain('user_specific');
    expect(text).not.toContain('joined_users');
    expect(text).not.toContain('background_url');
    expect(text).not.toContain('description');
  });

  it('falls back to joined_count and zeros when statistics are absent', () => {
    const page = projectsList.response.parse(body(`{ "checkins": [ ${checkinJson(PID, { statistics: 'null' }).replace('"statistics": null,', '')} ] }`));
    const [list] = projectsList.map([page], ongoing);
    const project = (list!.value.projects as Record<string, unknown>[])[0]!;
    expect([project.total_members, project.completed_members, project.today_checkins]).toEqual([34, 0, 0]);
  });

  it('caches an empty scope as an empty list flagged empty, with no info keys', () => {
    const page = projectsList.response.parse(body('{ "checkins": [] }'));
    expect(projectsList.map([page], unit({ variant: 'over' }))).toStrictEqual([
      { key: 'list', params: { scope: 'over' }, value: { scope: 'over', projects: [], total: 0, cached_at: CACHED_AT }, empty: true },
    ]);
  });

  it('lists a project repeated across a page boundary once', () => {
    const first = projectsList.response.parse(body(`{ "checkins": [ ${checkinJson('1')}, ${checkinJson('2')} ] }`));
    const second = projectsList.response.parse(body(`{ "checkins": [ ${checkinJson('2')}, ${checkinJson('3')} ] }`));
    const outputs = projectsList.map([first, second], ongoing);
    expect((outputs[0]!.value.projects as { project_id: string }[]).map((p) => p.project_id)).toEqual(['1', '2', '3']);
    expect(outputs[0]!.value.total).toBe(3);
    expect(outputs.filter((o) => o.key === 'info').map((o) => o.params.id)).toEqual(['1', '2', '3']);
  });

  it('refuses a page whose project id is not a decimal id', () => {
    expect(projectsList.response.safeParse(body(`{ "checkins": [ ${checkinJson('"12:34"')} ] }`)).success).toBe(false);
    expect(projectsList.response.safeParse(body(`{ "checkins": [ ${checkinJson('-5')} ] }`)).success).toBe(false);
  });

  it('asks for the next page after a full one, from the last project’s create_time', () => {
    const first = projectsList.request(ongoing);
    const full = { checkins: Array.from({ length: 100 }, (_, i) => ({ create_time: `2025-12-08T10:58:${String(59 - (i % 60)).padStart(2, '0')}.000+0800` })) };
    const next = projectsList.paging!.next([full as never], first);
    expect(next).toEqual({ path: first.path, query: { scope: 'ongoing', count: 100, end_time: full.checkins[99]!.create_time } });
  });

  it('stops after a short or empty page', () => {
    const first = projectsList.request(ongoing);
    const short = { checkins: Array.from({ length: 99 }, () => ({ create_time: '2025-12-08T10:58:10.369+0800' })) };
    expect(projectsList.paging!.next([short as never], first)).toBeUndefined();
    expect(projectsList.paging!.next([{ checkins: [] }], first)).toBeUndefined();
    expect(projectsList.paging!.maxPages).toBeGreaterThanOrEqual(1);
  });

  it('provides the project ids of a list value, and none of a malformed one', () => {
    const page = projectsList.response.parse(body(`{ "checkins": [ ${checkinJson('2424141521')}, ${checkinJson('82811825141841812')} ] }`));
    const [list] = projectsList.map([page], ongoing);
    expect(projectsList.providesProjects!.ids(list!.value)).toEqual(['2424141521', '82811825141841812']);
    expect(projectsList.providesProjects!.ids({})).toEqual([]);
    expect(projectsList.providesProjects!.ids({ projects: [{ project_id: 5 }, {}, { project_id: '7' }] })).toEqual(['7']);
  });
});

describe('project-stats', () => {
  it('asks for the project’s statistics', () => {
    expect(projectStats.request(unit({ projectId: PID }))).toEqual({ path: `/v2/groups/${GID}/checkins/${PID}/statistics` });
  });

  it('maps the statistics to the contract’s stats value', () => {
    const page = projectStats.response.parse(
      body('{ "statistics": { "joined_count": 34, "completed_count": 0, "checkined_count": 33, "ranking_list": [ { "avatar_url": "https://images.example/u1" } ] } }'),
    );
    const outputs = projectStats.map([page], unit({ projectId: PID }));
    expect(outputs).toStrictEqual([
      {
        key: 'stats',
        params: { id: PID },
        value: { project_id: PID, total_members: 34, completed_members: 0, total_checkins: 33, cached_at: CACHED_AT },
        empty: false,
      },
    ]);
    expect(keyOf(projectStats, outputs[0]!)).toBe(`zsxq:project:${PID}:stats`);
  });

  it('refuses an answer without statistics rather than caching zeros', () => {
    expect(projectStats.response.safeParse(body('{}')).success).toBe(false);
  });

  it('refuses negative or fractional counts', () => {
    expect(projectStats.response.safeParse(body('{ "statistics": { "joined_count": -1, "completed_count": 0, "checkined_count": 0 } }')).success).toBe(false);
    expect(projectStats.response.safeParse(body('{ "statistics": { "joined_count": 1.5, "completed_count": 0, "checkined_count": 0 } }')).success).toBe(false);
  });
});

describe('daily-stats', () => {
  it('asks for the day containing now, as a Shanghai timestamp', () => {
    expect(dailyStats.request(unit({ projectId: PID }))).toEqual({
      path: `/v2/groups/${GID}/checkins/${PID}/statistics/daily`,
      query: { date: '2025-12-10T16:27:42.892+0800' },
    });
  });

  it('maps the count to the contract’s daily stats value', () => {
    const page = dailyStats.response.parse(body('{ "checkined_count": 3 }'));
    const outputs = dailyStats.map([page], unit({ projectId: PID }));
    expect(outputs).toStrictEqual([
      {
        key: 'daily',
        params: { id: PID },
        value: { project_id: PID, date: '2025-12-10', total_checkins: 3, cached_at: CACHED_AT },
        empty: false,
      },
    ]);
    expect(keyOf(dailyStats, outputs[0]!)).toBe(`zsxq:project:${PID}:daily_stats`);
  });

  it('dates an instant at 16:30 UTC with the next day, the group’s local day', () => {
    const now = new Date('2025-12-10T16:30:00.000Z');
    const late = unit({ projectId: PID, now, cachedAt: now.toISOString() });
    expect(dailyStats.request(late).query).toEqual({ date: '2025-12-11T00:30:00.000+0800' });
    const [output] = dailyStats.map([dailyStats.response.parse(body('{ "checkined_count": 0 }'))], late);
    expect(output!.value.date).toBe('2025-12-11');
    expect(output!.value.cached_at).toBe('2025-12-10T16:30:00.000Z');
  });

  it('dates by the configured zone when it is not Shanghai', () => {
    const now = new Date('2025-12-10T03:00:00.000Z');
    const ny = unit({ projectId: PID, now, timeZone: 'America/New_York', cachedAt: now.toISOString() });
    expect(dailyStats.request(ny).query).toEqual({ date: '2025-12-09T22:00:00.000-0500' });
    expect(dailyStats.map([{ checkined_count: 1 }], ny)[0]!.value.date).toBe('2025-12-09');
  });

  it('rejects an answer without the count instead of caching zero check-ins', () => {
    expect(dailyStats.response.safeParse(body('{}')).success).toBe(false);
  });
});

const rankingJson = (n: number) =>
  `{ "user": { "user_id": ${585152812228254 + n}, "name": "U${n}", "alias": "", "avatar_url": "https://images.example/u${n}" }, "rankings": ${n}, "checkined_days": ${200 - n} }`;
const rankingPage = (from: number, count: number) =>
  leaderboards.response.parse(
    body(`{ "ranking_list": [ ${Array.from({ length: count }, (_, i) => rankingJson(from + i)).join(', ')} ],
           "user_specific": { "user": { "user_id": 184444848828412, "name": "me", "alias": "", "avatar_url": "https://images.example/me" }, "rankings": 0, "checkined_days": 0 } }`),
  );

describe('leaderboards', () => {
  const board = unit({ projectId: PID, variant: 'accumulated' });

  it('asks for the first page of the variant’s leaderboard', () => {
    expect(leaderboards.request(board)).toEqual({ path: `/v2/groups/${GID}/checkins/${PID}/ranking_list`, query: { type: 'accumulated', index: 0 } });
    expect(leaderboards.request(unit({ projectId: PID, variant: 'continuous' })).query).toEqual({ type: 'continuous', index: 0 });
  });

  it('maps rankings to the contract, best first, without the token’s own account', () => {
    const page = leaderboards.response.parse(
      body(`{ "ranking_list": [ { "user": { "user_id": 585152812228254, "name": "G", "alias": "", "avatar_url": "https://images.example/g" }, "rankings": 1, "checkined_days": 2 },
                                { "user": { "user_id": 9007199254740993, "name": "H", "alias": "h", "avatar_url": "https://images.example/h" }, "rankings": 2, "checkined_days": 1 } ],
              "user_specific": { "user": { "user_id": 184444848828412, "name": "me", "alias": "", "avatar_url": "https://images.example/me" }, "rankings": 0, "checkined_days": 0 } }`),
    );
    const outputs = leaderboards.map([page], board);
    expect(outputs).toStrictEqual([
      {
        key: 'leaderboard',
        params: { id: PID, type: 'accumulated' },
        value: {
          project_id: PID,
          type: 'accumulated',
          rankings: [
            { rank: 1, user: { user_id: '585152812228254', name: 'G', avatar_url: 'https://images.example/g' }, days: 2 },
            { rank: 2, user: { user_id: '9007199254740993', name: 'H', avatar_url: 'https://images.example/h' }, days: 1 },
          ],
          total: 2,
          cached_at: CACHED_AT,
        },
        empty: false,
      },
    ]);
    expect(keyOf(leaderboards, outputs[0]!)).toBe(`zsxq:project:${PID}:leaderboard:accumulated`);
    const text = JSON.stringify(outputs);
    expect(text).not.toContain('user_specific');
    expect(text).not.toContain('184444848828412');
    expect(text).not.toContain('alias');
  });

  it('stores at most 100 rankings across pages, and total counts what was stored', () => {
    const pages = [rankingPage(1, 30), rankingPage(31, 30), rankingPage(61, 30), rankingPage(91, 30)];
    const [output] = leaderboards.map(pages, board);
    const rankings = output!.value.rankings as { rank: number }[];
    expect(rankings).toHaveLength(100);
    expect(rankings[0]!.rank).toBe(1);
    expect(rankings[99]!.rank).toBe(100);
    expect(output!.value.total).toBe(100);
  });

  it('caches no rankings as an empty list flagged empty', () => {
    const [output] = leaderboards.map([leaderboards.response.parse(body('{ "ranking_list": [] }'))], board);
    expect(output!.value.rankings).toEqual([]);
    expect(output!.value.total).toBe(0);
    expect(output!.empty).toBe(true);
  });

  it('rejects an answer without ranking_list instead of taking it for an empty leaderboard', () => {
    expect(leaderboards.response.safeParse(body('{}')).success).toBe(false);
  });

  it('asks for the next page index while pages come back full and fewer than 100 are held', () => {
    const first = leaderboards.request(board);
    expect(leaderboards.paging!.next([rankingPage(1, 30)], first)).toEqual({ path: first.path, query: { type: 'accumulated', index: 1 } });
    expect(leaderboards.paging!.next([rankingPage(1, 30), rankingPage(31, 30), rankingPage(61, 30)], first)).toEqual({
      path: first.path,
      query: { type: 'accumulated', index: 3 },
    });
  });

  it('stops paging on an empty page', () => {
    const first = leaderboards.request(board);
    expect(leaderboards.paging!.next([rankingPage(1, 30), rankingPage(31, 0)], first)).toBeUndefined();
    expect(leaderboards.paging!.next([rankingPage(1, 0)], first)).toBeUndefined();
  });

  it('stops paging once 100 rankings are held', () => {
    const first = leaderboards.request(board);
    expect(leaderboards.paging!.next([rankingPage(1, 50), rankingPage(51, 50)], first)).toBeUndefined();
    expect(leaderboards.paging!.next([rankingPage(1, 60), rankingPage(61, 60)], first)).toBeUndefined();
    expect(leaderboards.paging!.next([rankingPage(1, 50), rankingPage(51, 49)], first)).toBeDefined();
  });
});

const topicJson = (id: string, createTime: string, over: { uid?: boolean; talk?: boolean } = {}) => `{
  "topic_id": ${id}, ${over.uid === false ? '' : `"topic_uid": "${id}",`}
  "group": { "group_id": ${GID}, "name": "示例星球", "type": "pay", "background_url": "https://images.example/bg" },
  "type": "talk",
  ${over.talk === false ? '' : `"talk": { "owner": { "user_id": 145818855412, "name": "康", "avatar_url": "https://images.example/k", "location": "河南" },
            "text": "今天完成1-8任务……" },`}
  "likes_count": 2, "rewards_count": 0, "comments_count": 1, "reading_count": 7, "readers_count": 5,
  "digested": false, "sticky": false,
  "create_time": "${createTime}",
  "user_specific": { "liked": false, "liked_emojis": [], "subscribed": false },
  "checkin": { "title": "新手实战指南", "checkin_id": ${PID}, "min_words_count": 20 },
  "title": "今天完成1-8任务…"
}`;

describe('topics', () => {
  const project = unit({ projectId: PID });

  it('asks for the 20 latest topics of the project', () => {
    expect(topics.request(project)).toEqual({ path: `/v2/groups/${GID}/checkins/${PID}/topics`, query: { count: 20 } });
  });

  it('maps a topic to the contract with the exact digits of an id above 2^53', () => {
    const page = topics.response.parse(body(`{ "topics": [ ${topicJson('82811825141841812', '2025-12-10T16:25:15.663+0800')} ] }`));
    const outputs = topics.map([page], project);
    expect(outputs).toStrictEqual([
      {
        key: 'topics',
        params: { id: PID },
        value: {
          project_id: PID,
          topics: [
            {
              topic_id: '82811825141841812',
              title: '今天完成1-8任务…',
              text: '今天完成1-8任务……',
              create_time: '2025-12-10T16:25:15.663+0800',
              user: { user_id: '145818855412', name: '康', avatar_url: 'https://images.example/k' },
              likes_count: 2,
              comments_count: 1,
              reading_count: 7,
            },
          ],
          cached_at: CACHED_AT,
        },
        empty: false,
      },
    ]);
    expect(keyOf(topics, outputs[0]!)).toBe(`zsxq:project:${PID}:topics`);
  });

  it('keeps the exact id from the JSON number when topic_uid is absent', () => {
    const page = topics.response.parse(body(`{ "topics": [ ${topicJson('82811825141841812', '2025-12-10T16:25:15.663+0800', { uid: false })} ] }`));
    const [output] = topics.map([page], project);
    expect((output!.value.topics as { topic_id: string }[])[0]!.topic_id).toBe('82811825141841812');
  });

  it('refuses an id that a plain JSON.parse has already rounded rather than caching wrong digits', () => {
    const lossy = JSON.parse(`{ "topics": [ ${topicJson('82811825141841812', '2025-12-10T16:25:15.663+0800', { uid: false })} ] }`);
    expect(topics.response.safeParse(lossy).success).toBe(false);
  });

  it('never caches user_specific, the group or the check-in', () => {
    const page = topics.response.parse(body(`{ "topics": [ ${topicJson('82811825141841812', '2025-12-10T16:25:15.663+0800')} ] }`));
    const text = JSON.stringify(topics.map([page], project));
    expect(text).not.toContain('user_specific');
    expect(text).not.toContain('liked');
    expect(text).not.toContain('location');
    expect(text).not.toContain('rewards_count');
  });

  it('keeps the 20 newest topics, newest first', () => {
    // 25 topics, one per minute, sent in a shuffled order.
    const minutes = Array.from({ length: 25 }, (_, i) => i).sort((a, b) => ((a * 7) % 25) - ((b * 7) % 25));
    const items = minutes.map((m) => topicJson(String(82811825141841000n + BigInt(m)), `2025-12-10T16:${String(10 + m).padStart(2, '0')}:00.000+0800`));
    const page = topics.response.parse(body(`{ "topics": [ ${items.join(', ')} ] }`));
    const [output] = topics.map([page], project);
    const ids = (output!.value.topics as { topic_id: string }[]).map((t) => t.topic_id);
    expect(ids).toHaveLength(20);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => String(82811825141841024n - BigInt(i))));
  });

  it('does not reorder the parsed page it was given', () => {
    const items = [topicJson('1', '2025-12-10T10:00:00.000+0800'), topicJson('2', '2025-12-10T12:00:00.000+0800')];
    const page = topics.response.parse(body(`{ "topics": [ ${items.join(', ')} ] }`));
    topics.map([page], project);
    expect(page.topics.map((t) => t.topic_id)).toEqual(['1', '2']);
  });

  it('caches no topics as an empty list flagged empty', () => {
    const outputs = topics.map([topics.response.parse(body('{ "topics": [] }'))], project);
    expect(outputs).toStrictEqual([{ key: 'topics', params: { id: PID }, value: { project_id: PID, topics: [], cached_at: CACHED_AT }, empty: true }]);
  });

  it('rejects an answer without topics instead of taking it for an empty list', () => {
    expect(topics.response.safeParse(body('{}')).success).toBe(false);
  });

  it('maps a topic without a talk to empty text', () => {
    const page = topics.response.parse(body(`{ "topics": [ ${topicJson('5', '2025-12-10T10:00:00.000+0800', { talk: false })} ] }`));
    const [output] = topics.map([page], project);
    expect((output!.value.topics as { text: string }[])[0]!.text).toBe('');
  });
});
