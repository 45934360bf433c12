/**
 * The plain baseline: the requests of the daemon's full warm cycle made with
 * got (same headers, responseType text, JSON.parse) and the same keys written
 * with ioredis (pipelined `SET key value EX ttl`, 200 per batch), in one p-map
 * loop with the same concurrency. No queue, no validation, no status store:
 * what the work costs when nothing else is done.
 *
 * It runs in its own node process (bench/baseline-child.ts), like the daemon,
 * so that neither shares an event loop with the simulator.
 */
import { fileURLToPath } from 'node:url';
import got from 'got';
import { Redis } from 'ioredis';
import pMap from 'p-map';
import { trackCpu } from './proc.js';
import { spawnNode, waitForExit, type Cleanup } from './processes.js';

export interface PlainLoopOptions {
  baseUrl: string;
  token: string;
  groupId: string;
  redisUrl: string;
  prefix: string;
  concurrency: number;
}

export interface PlainLoopResult {
  keys: number;
  bytes: number;
  /** Requests this loop sent. */
  requests: number;
  seconds: number;
  projects: number;
}

/** The daemon's TTLs (jobs/*.ts), in seconds. */
const TTL = { list: 7200, listEmpty: 3600, info: 7200, stats: 3600, leaderboard: 3600, leaderboardEmpty: 1800, daily: 1800, topics: 600, topicsEmpty: 300 };
const SCOPES = ['ongoing', 'closed', 'over'] as const;
const LIST_PAGE = 100;
const MAX_LIST_PAGES = 100;
const MAX_RANKINGS = 100;
const MAX_RANKING_PAGES = 20;
const BATCH = 200;

/* The upstream's shapes, as far as the loop reads them (no validation: this is the plain loop). */
interface WireUser {
  user_id: number | string;
  name: string;
  avatar_url?: string;
}
interface WireCheckin {
  checkin_id: number | string;
  owner: WireUser;
  title: string;
  text: string;
  checkin_days: number;
  validity?: { expiration_time?: string };
  create_time: string;
  status: string;
  type: string;
  joined_count: number;
  statistics?: { joined_count: number; completed_count: number; today_checkined_count: number };
  min_words_count: number;
}
interface WireTopic {
  topic_id: number | string;
  topic_uid?: string;
  title: string;
  talk?: { owner: WireUser; text: string };
  likes_count: number;
  comments_count: number;
  reading_count: number;
  create_time: string;
}

const user = (u: WireUser) => ({ user_id: String(u.user_id), name: u.name, avatar_url: u.avatar_url ?? '' });

/** `2025-12-10T16:27:42.892+0800`: the daemon's daily-stats `date` in Asia/Shanghai (no DST there). */
function shanghaiTimestamp(now: Date): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().replace('Z', '+0800');
}

/** Pipelined SET … EX in batches, one batch in flight at a time (as the daemon's BatchWriter). */
class Writer {
  private pending: [string, string, number][] = [];
  private chain: Promise<void> = Promise.resolve();
  keys = 0;
  bytes = 0;

  constructor(private readonly redis: Redis) {}

  add(key: string, value: object, ttlSeconds: number): void {
    const json = JSON.stringify(value);
    this.pending.push([key, json, ttlSeconds]);
    this.keys += 1;
    this.bytes += Buffer.byteLength(json);
    if (this.pending.length >= BATCH) this.flush();
  }

  flush(): Promise<void> {
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.chain = this.chain.then(async () => {
        const pipeline = this.redis.pipeline();
        for (const [key, json, ttl] of batch) pipeline.set(key, json, 'EX', ttl);
        const results = await pipeline.exec();
        const failed = results?.find(([error]) => error);
        if (!results || failed) throw new Error(`plain loop: writing ${batch.length} keys failed`, { cause: failed?.[0] });
      });
    }
    return this.chain;
  }
}

export async function plainLoop(o: PlainLoopOptions): Promise<PlainLoopResult> {
  const client = got.extend({
    prefixUrl: o.baseUrl,
    responseType: 'text',
    followRedirect: false,
    timeout: { request: 5_000 },
    retry: { limit: 2, methods: ['GET'], statusCodes: [500, 502, 503, 504] },
    headers: { accept: 'application/json', 'user-agent': 'cache-warmer', authorization: o.token },
  });
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // a failed write rejects its pipeline, which is reported
  let requests = 0;
  const get = async <T>(path: string, searchParams: Record<string, string | number> = {}): Promise<T> => {
    requests += 1;
    const response = await client.get(path, { searchParams });
    const body = JSON.parse(response.body) as { succeeded?: boolean; code?: number; resp_data?: T };
    if (body.succeeded !== true) throw new Error(`plain loop: GET ${path}: envelope code ${body.code}`);
    return body.resp_data as T;
  };
  const group = `v2/groups/${o.groupId}/checkins`;
  const p = o.prefix;
  const writer = new Writer(redis);
  try {
    const started = performance.now();
    const now = new Date();
    const cachedAt = now.toISOString();

    // 1. The projects list of each scope, every page, then the list and info keys.
    const lists = await pMap(
      SCOPES,
      async (scope) => {
        const checkins: WireCheckin[] = [];
        let endTime: string | undefined;
        for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
          const data = await get<{ checkins: WireCheckin[] }>(group, { scope, count: LIST_PAGE, ...(endTime ? { end_time: endTime } : {}) });
          checkins.push(...data.checkins);
          if (data.checkins.length < LIST_PAGE) break;
          endTime = data.checkins[data.checkins.length - 1]!.create_time;
        }
        return checkins;
      },
      { concurrency: o.concurrency },
    );
    SCOPES.forEach((scope, i) => {
      const checkins = lists[i]!;
      const members = (c: WireCheckin) => ({
        total_members: c.statistics?.joined_count ?? c.joined_count,
        completed_members: c.statistics?.completed_count ?? 0,
        today_checkins: c.statistics?.today_checkined_count ?? 0,
      });
      const projects = checkins.map((c) => ({ project_id: String(c.checkin_id), title: c.title, status: c.status, type: c.type, ...members(c), create_time: c.create_time }));
      writer.add(`${p}:projects:list:${scope}`, { scope, projects, total: projects.length, cached_at: cachedAt }, projects.length ? TTL.list : TTL.listEmpty);
      for (const c of checkins) {
        writer.add(
          `${p}:project:${c.checkin_id}:info`,
          {
            project_id: String(c.checkin_id),
            title: c.title,
            text: c.text,
            status: c.status,
            type: c.type,
            checkin_days: c.checkin_days,
            min_words_count: c.min_words_count,
            create_time: c.create_time,
            expiration_time: c.validity?.expiration_time || null,
            owner: user(c.owner),
            ...members(c),
            cached_at: cachedAt,
          },
          TTL.info,
        );
      }
    });

    // 2. Per ongoing project: statistics, both leaderboards, daily stats, topics (job by job, as --once all).
    const ids = lists[0]!.map((c) => String(c.checkin_id));
    type Unit = { id: string; kind: 'stats' | 'leaderboard' | 'daily' | 'topics'; type?: 'continuous' | 'accumulated' };
    const units: Unit[] = [
      ...ids.map((id): Unit => ({ id, kind: 'stats' })),
      ...ids.flatMap((id): Unit[] => [
        { id, kind: 'leaderboard', type: 'continuous' },
        { id, kind: 'leaderboard', type: 'accumulated' },
      ]),
      ...ids.map((id): Unit => ({ id, kind: 'daily' })),
      ...ids.map((id): Unit => ({ id, kind: 'topics' })),
    ];
    const date = shanghaiTimestamp(now);
    const localDay = date.slice(0, 10);
    await pMap(
      units,
      async (unit) => {
        const base = `${group}/${unit.id}`;
        switch (unit.kind) {
          case 'stats': {
            const { statistics: s } = await get<{ statistics: { joined_count: number; completed_count: number; checkined_count: number } }>(`${base}/statistics`);
            writer.add(
              `${p}:project:${unit.id}:stats`,
              { project_id: unit.id, total_members: s.joined_count, completed_members: s.completed_count, total_checkins: s.checkined_count, cached_at: cachedAt },
              TTL.stats,
            );
            return;
          }
          case 'leaderboard': {
            const rankings: { rank: number; user: ReturnType<typeof user>; days: number }[] = [];
            for (let index = 0; index < MAX_RANKING_PAGES && rankings.length < MAX_RANKINGS; index += 1) {
              const page = await get<{ ranking_list: { user: WireUser; rankings: number; checkined_days: number }[] }>(`${base}/ranking_list`, { type: unit.type!, index });
              if (page.ranking_list.length === 0) break;
              for (const r of page.ranking_list) rankings.push({ rank: r.rankings, user: user(r.user), days: r.checkined_days });
            }
            const top = rankings.slice(0, MAX_RANKINGS);
            writer.add(
              `${p}:project:${unit.id}:leaderboard:${unit.type}`,
              { project_id: unit.id, type: unit.type, rankings: top, total: top.length, cached_at: cachedAt },
              top.length ? TTL.leaderboard : TTL.leaderboardEmpty,
            );
            return;
          }
          case 'daily': {
            const d = await get<{ checkined_count: number }>(`${base}/statistics/daily`, { date });
            writer.add(`${p}:project:${unit.id}:daily_stats`, { project_id: unit.id, date: localDay, total_checkins: d.checkined_count, cached_at: cachedAt }, TTL.daily);
            return;
          }
          case 'topics': {
            const { topics } = await get<{ topics: WireTopic[] }>(`${base}/topics`, { count: 20 });
            const mapped = topics.slice(0, 20).map((t) => ({
              topic_id: t.topic_uid ?? String(t.topic_id),
              title: t.title,
              text: t.talk?.text ?? '',
              create_time: t.create_time,
              user: t.talk ? user(t.talk.owner) : null,
              likes_count: t.likes_count,
              comments_count: t.comments_count,
              reading_count: t.reading_count,
            }));
            writer.add(`${p}:project:${unit.id}:topics`, { project_id: unit.id, topics: mapped, cached_at: cachedAt }, mapped.length ? TTL.topics : TTL.topicsEmpty);
            return;
          }
        }
      },
      { concurrency: o.concurrency },
    );
    await writer.flush();
    const seconds = (performance.now() - started) / 1000;
    return { keys: writer.keys, bytes: writer.bytes, requests, seconds, projects: ids.length };
  } finally {
    redis.disconnect();
  }
}

/** The compiled child entry. */
const CHILD = fileURLToPath(new URL('./baseline-child.js', import.meta.url));

/**
 * Runs the plain loop in its own node process and returns what it measured,
 * with its wall time and CPU time from outside (start-up included, as for the daemon).
 */
export async function runPlainLoopProcess(
  options: PlainLoopOptions,
  cleanup: Cleanup,
  timeoutMs: number,
  nodeArgs: string[] = [],
): Promise<PlainLoopResult & { wallSeconds: number; cpuSeconds: number }> {
  const started = performance.now();
  const child = spawnNode({ script: CHILD, args: [JSON.stringify(options)], env: {}, nodeArgs, cleanup, name: 'plain loop' });
  const cpu = trackCpu(child.pid);
  let code: number | null;
  try {
    code = await waitForExit(child, timeoutMs, 'plain loop');
  } finally {
    cpu.stop();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const line = [...child.logs].reverse().find((l) => l.msg === 'plain loop finished');
  if (code !== 0 || !line) throw new Error(`plain loop failed (exit ${code}):\n${child.tail().slice(-3000)}`);
  return { ...(line.result as PlainLoopResult), wallSeconds, cpuSeconds: cpu.seconds() };
}
