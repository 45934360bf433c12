import { request } from 'node:http';
import { gunzipSync, createGunzip } from 'node:zlib';
import { isLosslessNumber, parse } from 'lossless-json';
import { afterEach, describe, expect, it } from 'vitest';
import { generateData } from '../support/simulator/data.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../support/simulator/server.js';

const TOKEN = 'sim-token';
const GID = '15555411412112';
const open: Simulator[] = [];

async function start(opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(opts);
  open.push(sim);
  return sim;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((sim) => sim.close()));
});

const base = (rest = '') => `/v2/groups/${GID}/checkins${rest}`;

function get(sim: Simulator, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(sim.url + path, { ...init, headers: { authorization: TOKEN, ...init.headers } });
}

async function getJson(sim: Simulator, path: string): Promise<any> {
  // Ids (10+ digits) stay strings so they compare with the data model; counts become numbers.
  return parse(await (await get(sim, path)).text(), undefined, (n) => (/^\d{10,}$/.test(n) ? n : Number(n)));
}

/** A plain node:http GET: no automatic decompression or redirects, so the raw wire is visible. */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

const firstProject = (sim: Simulator, pred: (i: number) => boolean = () => true) =>
  sim.data.projects.find((p, i) => pred(i) && p.topics.length > 3 && p.rankings.accumulated.length > 45)!;

describe('generated data', () => {
  it('is the same for the same seed and differs for another seed', () => {
    const a = generateData({ projects: 30, seed: 7, groupId: GID });
    expect(generateData({ projects: 30, seed: 7, groupId: GID })).toEqual(a);
    expect(generateData({ projects: 30, seed: 8, groupId: GID })).not.toEqual(a);
  });

  it('spreads projects over scopes, leaves every seventh empty and keeps ids as decimal strings', () => {
    const { projects } = generateData({ projects: 200, seed: 1, groupId: GID });
    const share = (s: string) => projects.filter((p) => p.status === s).length / projects.length;
    expect(share('ongoing')).toBeGreaterThan(0.55);
    expect(share('closed')).toBeGreaterThan(0.05);
    expect(share('over')).toBeGreaterThan(0.05);
    for (const [i, p] of projects.entries()) {
      expect(p.checkin_id).toMatch(/^\d{10,13}$/);
      expect(p.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0800$/);
      if (i % 7 === 3) expect([p.topics.length, p.rankings.continuous.length, p.rankings.accumulated.length]).toEqual([0, 0, 0]);
    }
    const topicIds = projects.flatMap((p) => p.topics.map((t) => BigInt(t.topic_id)));
    expect(topicIds.some((id) => id > 2n ** 53n)).toBe(true);
    expect(generateData({ projects: 1, seed: 99, groupId: GID }).projects[0]!.status).toBe('ongoing');
  });
});

describe('auth and envelope', () => {
  it('answers 401 unauthorized without or with a wrong token and never records the token', async () => {
    const sim = await start();
    const none = await fetch(sim.url + base('?scope=ongoing'));
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ succeeded: false, code: 401, error: 'unauthorized' });
    expect((await get(sim, base('?scope=ongoing'), { headers: { authorization: 'nope' } })).status).toBe(401);
    expect(sim.requests.map((r) => r.authorized)).toEqual([false, false]);
    expect(JSON.stringify(sim.requests)).not.toContain('nope');
  });

  it('accepts only the new token after setToken', async () => {
    const sim = await start();
    sim.setToken('rotated');
    expect((await get(sim, base('?scope=ongoing'))).status).toBe(401);
    expect((await get(sim, base('?scope=ongoing'), { headers: { authorization: 'rotated' } })).status).toBe(200);
  });

  it('sends the JSON content type, x-expire-in and a succeeded envelope', async () => {
    const sim = await start({ expireInSeconds: 1234 });
    const res = await get(sim, base('?scope=ongoing'));
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(res.headers.get('x-expire-in')).toBe('1234');
    expect(await res.json()).toMatchObject({ succeeded: true, resp_data: { checkins: expect.any(Array) } });
  });

  it('gzip-encodes only when accept-encoding includes gzip', async () => {
    const sim = await start();
    const zipped = await rawGet(sim.url + base('?scope=ongoing'), { authorization: TOKEN, 'accept-encoding': 'gzip, deflate' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(zipped.body).toString()).succeeded).toBe(true);
    const plain = await rawGet(sim.url + base('?scope=ongoing'), { authorization: TOKEN });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(plain.body.toString()).succeeded).toBe(true);
  });

  it('answers 404 for a wrong group or unknown path and 405 for other methods', async () => {
    const sim = await start();
    const wrongGroup = await get(sim, '/v2/groups/1/checkins?scope=ongoing');
    expect(wrongGroup.status).toBe(404);
    expect(await wrongGroup.json()).toMatchObject({ succeeded: false, code: 404 });
    expect((await get(sim, '/v2/nothing')).status).toBe(404);
    expect((await get(sim, base('?scope=ongoing'), { method: 'POST' })).status).toBe(405);
    expect(sim.requests.map((r) => r.route)).toEqual(['projects', 'unknown', 'projects']);
  });
});

describe('endpoints', () => {
  it('lists projects of one scope newest first with the sample shape', async () => {
    const sim = await start();
    const { resp_data } = await getJson(sim, base('?scope=ongoing&count=5'));
    const first = sim.data.projects.find((p) => p.status === 'ongoing')!;
    expect(resp_data.checkins).toHaveLength(5);
    expect(resp_data.checkins[0]).toMatchObject({
      checkin_id: first.checkin_id,
      group: { group_id: GID },
      owner: { user_id: first.owner.user_id, name: first.owner.name },
      title: first.title,
      create_time: first.create_time,
      status: 'ongoing',
      statistics: first.statistics,
      user_specific: { joined: false },
    });
    const times = resp_data.checkins.map((c: any) => Date.parse(c.create_time.replace('+0800', '+08:00')));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('pages projects by end_time until every project of the scope is seen once', async () => {
    const sim = await start({ projects: 60 });
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const { resp_data } = await getJson(sim, base(`?scope=ongoing&count=7${cursor}`));
      if (resp_data.checkins.length === 0) break;
      seen.push(...resp_data.checkins.map((c: any) => c.checkin_id));
      cursor = `&end_time=${encodeURIComponent(resp_data.checkins.at(-1).create_time)}`;
    }
    expect(seen).toEqual(sim.data.projects.filter((p) => p.status === 'ongoing').map((p) => p.checkin_id));
  });

  it('rejects a missing scope or an out-of-range count with a failure envelope', async () => {
    const sim = await start();
    expect(await getJson(sim, base())).toEqual({ succeeded: false, code: 400, error: 'bad scope' });
    expect((await getJson(sim, base('?scope=over&count=101'))).succeeded).toBe(false);
  });

  it('answers the detail with the list object, is_valid_member and the group', async () => {
    const sim = await start();
    const p = sim.data.projects[0]!;
    const list = await getJson(sim, base('?scope=ongoing&count=1'));
    const { resp_data } = await getJson(sim, base(`/${p.checkin_id}`));
    expect(resp_data).toEqual({ is_valid_member: true, checkin: list.resp_data.checkins[0], group: { name: '示例星球' } });
  });

  it('answers an empty resp_data for an unknown or deleted project and leaves it out of the list', async () => {
    const sim = await start();
    expect(await getJson(sim, base('/123'))).toEqual({ succeeded: true, resp_data: {} });
    const p = sim.data.projects[0]!;
    p.deleted = true;
    expect(await getJson(sim, base(`/${p.checkin_id}`))).toEqual({ succeeded: true, resp_data: {} });
    const list = await getJson(sim, base('?scope=ongoing&count=100'));
    expect(list.resp_data.checkins.map((c: any) => c.checkin_id)).not.toContain(p.checkin_id);
  });

  it('answers statistics and the daily count for a URL-encoded +0800 date', async () => {
    const sim = await start();
    const p = sim.data.projects[0]!;
    const stats = await getJson(sim, base(`/${p.checkin_id}/statistics`));
    expect(stats.resp_data.statistics).toMatchObject(p.stats);
    expect(stats.resp_data.statistics.ranking_list.length).toBeLessThanOrEqual(3);
    const date = encodeURIComponent('2025-12-10T16:27:42.892+0800');
    expect(await getJson(sim, base(`/${p.checkin_id}/statistics/daily?date=${date}`))).toEqual({
      succeeded: true,
      resp_data: { checkined_count: p.daily.checkined_count },
    });
  });

  it('rejects a missing, invalid or unencoded daily date', async () => {
    const sim = await start();
    const path = base(`/${sim.data.projects[0]!.checkin_id}/statistics/daily`);
    for (const query of ['', '?date=yesterday', '?date=2025-12-10T16:27:42.892+0800', '?date=2025-02-31T00:00:00.000%2B0800']) {
      expect(await getJson(sim, path + query)).toEqual({ succeeded: false, code: 400, error: 'bad date' });
    }
  });

  it('pages the leaderboard by index until an empty page, with user_specific beside it', async () => {
    const sim = await start({ rankingPageSize: 20 });
    const p = firstProject(sim);
    const positions: number[] = [];
    for (let index = 0; index < 20; index++) {
      const { resp_data } = await getJson(sim, base(`/${p.checkin_id}/ranking_list?type=accumulated&index=${index}`));
      expect(resp_data.user_specific.user.user_id).toBe(sim.data.me.user_id);
      if (resp_data.ranking_list.length === 0) break;
      expect(resp_data.ranking_list[0]).toEqual({ user: expect.objectContaining({ alias: '' }), rankings: expect.any(Number), checkined_days: expect.any(Number) });
      positions.push(...resp_data.ranking_list.map((e: any) => e.rankings));
    }
    expect(positions).toEqual(p.rankings.accumulated.map((_, i) => i + 1));
    expect((await getJson(sim, base(`/${p.checkin_id}/ranking_list?type=weekly`))).succeeded).toBe(false);
  });

  it('pages topics newest first by the end_time of the last topic', async () => {
    const sim = await start();
    const p = firstProject(sim);
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 50; page++) {
      const { resp_data } = await getJson(sim, base(`/${p.checkin_id}/topics?count=2${cursor}`));
      if (resp_data.topics.length === 0) break;
      seen.push(...resp_data.topics.map((t: any) => t.topic_id));
      cursor = `&end_time=${encodeURIComponent(resp_data.topics.at(-1).create_time)}`;
    }
    expect(seen).toEqual(p.topics.map((t) => t.topic_id));
    expect((await getJson(sim, base(`/${p.checkin_id}/topics?count=31`))).succeeded).toBe(false);
  });

  it('writes ids as exact JSON numbers and topic_uid as the same digits in a string', async () => {
    const sim = await start();
    const p = sim.data.projects.find((x) => x.topics.some((t) => BigInt(t.topic_id) > 2n ** 53n))!;
    const big = p.topics.find((t) => BigInt(t.topic_id) > 2n ** 53n)!.topic_id;
    const text = await (await get(sim, base(`/${p.checkin_id}/topics?count=30`))).text();
    expect(text).toContain(`"topic_id":${big},"topic_uid":"${big}"`);
    const topic = (parse(text) as any).resp_data.topics.find((t: any) => t.topic_uid === big);
    expect(isLosslessNumber(topic.topic_id) && topic.topic_id.toString()).toBe(big);
    expect(text).toContain(`"checkin_id":${p.checkin_id},`);
  });

  it('serves changes made to sim.data on the next request', async () => {
    const sim = await start();
    const p = sim.data.projects[3]!; // index % 7 === 3: an empty project
    expect((await getJson(sim, base(`/${p.checkin_id}/topics`))).resp_data.topics).toEqual([]);
    p.topics.unshift({ ...sim.data.projects[0]!.topics[0]!, topic_id: '99999999999999999' });
    expect((await getJson(sim, base(`/${p.checkin_id}/topics`))).resp_data.topics[0].topic_uid).toBe('99999999999999999');
  });
});

describe('recording and latency', () => {
  it('records every request in order with route, query and status, and counts by route', async () => {
    const sim = await start();
    await get(sim, base('?scope=closed&count=3'));
    await get(sim, base(`/${sim.data.projects[0]!.checkin_id}/topics`));
    expect(sim.requests[0]).toMatchObject({ method: 'GET', path: base(), query: { scope: 'closed', count: '3' }, authorized: true, status: 200, route: 'projects' });
    expect([sim.count(), sim.count('topics'), sim.count('ranking')]).toEqual([2, 1, 0]);
    sim.resetRequests();
    expect(sim.count()).toBe(0);
  });

  it('delays every response by latencyMs', async () => {
    const sim = await start({ latencyMs: 120 });
    const t0 = performance.now();
    await get(sim, base('?scope=ongoing'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });
});

describe('faults', () => {
  it('answers a status fault with Retry-After for the next N requests, then normally', async () => {
    const sim = await start();
    sim.fault({ kind: 'status', status: 429, retryAfter: '3', times: 2 });
    const first = await get(sim, base('?scope=ongoing'));
    expect([first.status, first.headers.get('retry-after')]).toEqual([429, '3']);
    expect((await get(sim, base('?scope=ongoing'))).status).toBe(429);
    expect((await get(sim, base('?scope=ongoing'))).status).toBe(200);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('applies the first matching fault by route and projectId, in the order added', async () => {
    const sim = await start();
    const [a, b] = sim.data.projects;
    sim.fault({ kind: 'envelope', code: 1030, projectId: b!.checkin_id });
    sim.fault({ kind: 'envelope', code: 1059, route: ['statistics', 'topics'], times: 1 });
    sim.fault({ kind: 'status', status: 503, route: 'statistics' });
    expect(await getJson(sim, base(`/${b!.checkin_id}/statistics`))).toMatchObject({ succeeded: false, code: 1030 });
    expect(await getJson(sim, base(`/${a!.checkin_id}/statistics`))).toEqual({ succeeded: false, code: 1059, info: '', error: '内部错误', resp_data: {} });
    expect((await get(sim, base(`/${a!.checkin_id}/statistics`))).status).toBe(503);
    expect((await getJson(sim, base(`/${a!.checkin_id}`))).succeeded).toBe(true);
    sim.clearFaults();
    expect((await get(sim, base(`/${b!.checkin_id}/statistics`))).status).toBe(200);
  });

  it('sends invalid JSON, wrong shapes, an empty resp_data for deleted, and a 302 redirect', async () => {
    const sim = await start();
    const cid = sim.data.projects[0]!.checkin_id;
    sim.fault({ kind: 'invalid-json', times: 1 });
    await expect((await get(sim, base('?scope=ongoing'))).json()).rejects.toThrow(SyntaxError);
    sim.fault({ kind: 'wrong-shape', times: 1 });
    expect(await getJson(sim, base('?scope=ongoing'))).toEqual({ succeeded: true, resp_data: { checkins: 'not-a-list' } });
    sim.fault({ kind: 'deleted', route: 'project', times: 1 });
    expect(await getJson(sim, base(`/${cid}`))).toEqual({ succeeded: true, resp_data: {} });
    sim.fault({ kind: 'redirect', location: 'http://127.0.0.1:1/elsewhere', times: 1 });
    const moved = await rawGet(sim.url + base('?scope=ongoing'), { authorization: TOKEN });
    expect([moved.status, moved.headers.location]).toEqual([302, 'http://127.0.0.1:1/elsewhere']);
  });

  it('injects __proto__ keys that JSON.parse keeps as own data, never as a prototype', async () => {
    const sim = await start();
    sim.fault({ kind: 'proto' });
    const text = await (await get(sim, base('?scope=ongoing&count=2'))).text();
    expect(text.startsWith('{"__proto__":')).toBe(true);
    const body = JSON.parse(text);
    expect(Object.hasOwn(body.resp_data.checkins[0], '__proto__')).toBe(true);
    expect(body.resp_data.checkins[0].checkin_id).toBeTypeOf('number');
    expect(({} as any).polluted).toBeUndefined();
  });

  it('replaces every id by a hostile string with bad-id', async () => {
    const sim = await start();
    const p = firstProject(sim);
    sim.fault({ kind: 'bad-id' });
    const { resp_data } = await getJson(sim, base(`/${p.checkin_id}/topics?count=1`));
    const t = resp_data.topics[0];
    for (const value of [t.topic_id, t.topic_uid, t.group.group_id, t.talk.owner.user_id, t.checkin.checkin_id]) {
      expect(value).toMatch(/^\d+:evil\*$/);
    }
  });

  it('delays, resets and hangs, recording each request, and close() ends a hanging request', async () => {
    const sim = await start();
    sim.fault({ kind: 'delay', ms: 100, route: 'projects', times: 1 });
    const t0 = performance.now();
    expect((await get(sim, base('?scope=ongoing'))).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    sim.fault({ kind: 'reset', route: 'project' });
    await expect(get(sim, base('/1'))).rejects.toThrow();
    sim.fault({ kind: 'hang', route: 'topics' });
    await expect(get(sim, base('/1/topics'), { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const hanging = get(sim, base('/1/topics')).catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 50));
    await sim.close();
    expect(await hanging).toBeInstanceOf(Error);
    expect(sim.requests.map((r) => [r.route, r.status])).toEqual([['projects', 200], ['project', 0], ['topics', 0], ['topics', 0]]);
  });

  it('trickles one byte at a time after the headers until closed', async () => {
    const sim = await start();
    sim.fault({ kind: 'trickle', bytesPerSecond: 50 });
    const res = await get(sim, base('?scope=ongoing'));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = 0;
    const until = performance.now() + 300;
    while (performance.now() < until) received += (await reader.read()).value?.length ?? 0;
    expect(received).toBeGreaterThan(3);
    expect(received).toBeLessThan(40);
    await sim.close(); // must not wait for the never-ending body
    await expect(reader.read()).rejects.toThrow();
  });

  it('streams a huge body of exactly the requested size as valid JSON', async () => {
    const sim = await start();
    sim.fault({ kind: 'huge', bytes: 3_000_000 });
    const res = await get(sim, base('?scope=ongoing'));
    expect(res.headers.get('content-length')).toBe('3000000');
    const text = await res.text();
    expect(text.length).toBe(3_000_000);
    expect(JSON.parse(text).succeeded).toBe(true);
  });

  it('sends a gzip bomb that inflates to the requested size whatever accept-encoding says', async () => {
    const sim = await start();
    sim.fault({ kind: 'gzip-bomb', bytes: 20_000_000 });
    const raw = await rawGet(sim.url + base('?scope=ongoing'), { authorization: TOKEN });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(raw.body.length).toBeLessThan(200_000);
    let inflated = 0;
    const gunzip = createGunzip();
    gunzip.on('data', (c: Buffer) => (inflated += c.length));
    await new Promise((resolve, reject) => gunzip.on('end', resolve).on('error', reject).end(raw.body));
    expect(inflated).toBe(20_000_000);
  });

  it('rejects a fault with impossible parameters', async () => {
    const sim = await start();
    expect(() => sim.fault({ kind: 'status', status: 42 })).toThrow(/status must be/);
    expect(() => sim.fault({ kind: 'huge', bytes: -1 })).toThrow(/bytes/);
    expect(() => sim.fault({ kind: 'reset', times: 1.5 })).toThrow(/times/);
  });

  it('closes idempotently with keep-alive connections open', async () => {
    const sim = await start();
    await get(sim, base('?scope=ongoing'));
    await Promise.all([sim.close(), sim.close()]);
    await expect(get(sim, base('?scope=ongoing'))).rejects.toThrow();
  });
});
