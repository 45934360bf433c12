/**
 * Deterministic data for the upstream simulator (see /work/shared/upstream-api.md).
 *
 * Pure: the same options always give the same data (seeded PRNG, a fixed "now"),
 * so tests can assert on exact values. Every id is kept as a decimal string because
 * some topic ids exceed 2^53 and would lose digits as JS numbers; the server writes
 * them back as raw JSON numbers.
 *
 * The end of the file maps the model to its wire form (the exact JSON objects of the
 * API samples, ids as WireIds); faults.ts's encodeJson turns that into text.
 */

export type Scope = 'ongoing' | 'closed' | 'over';
export type RankingType = 'continuous' | 'accumulated';

export interface SimUser {
  user_id: string;
  name: string;
  alias: string;
  avatar_url: string;
  description: string;
  location: string;
}

export interface SimRankingEntry {
  user: SimUser;
  /** 1-based position on the leaderboard. */
  rankings: number;
  checkined_days: number;
}

export interface SimTopic {
  /** Decimal string; about half exceed 2^53. Also written as `topic_uid`. */
  topic_id: string;
  owner: SimUser;
  text: string;
  create_time: string;
  likes_count: number;
  comments_count: number;
  reading_count: number;
  readers_count: number;
  digested: boolean;
}

export interface SimProject {
  checkin_id: string;
  title: string;
  text: string;
  owner: SimUser;
  /** The scope the project is listed under; written as `status`. */
  status: Scope;
  type: RankingType;
  checkin_days: number;
  validity: { long_period: boolean; expiration_time: string };
  create_time: string;
  min_words_count: number;
  /** As embedded in the list and detail objects. */
  statistics: { joined_count: number; completed_count: number; today_checkined_count: number };
  /** As answered by the `/statistics` endpoint. */
  stats: { joined_count: number; completed_count: number; checkined_count: number };
  /** Answered by `/statistics/daily` for any valid date. */
  daily: { checkined_count: number };
  /** Full leaderboards, position order; the server pages them. */
  rankings: Record<RankingType, SimRankingEntry[]>;
  /** Newest first, create_time strictly descending. */
  topics: SimTopic[];
  joined_avatars: string[];
  /** A deleted project is left out of lists and its detail answers `resp_data: {}`. */
  deleted: boolean;
}

export interface SimulatorData {
  group: { group_id: string; name: string; type: string; background_url: string };
  /** The token's own account, used for the `user_specific` parts clients must ignore. */
  me: SimUser;
  /** Index order = newest first (create_time strictly descending). */
  projects: SimProject[];
}

export interface GenerateOptions {
  projects: number;
  seed: number;
  groupId: string;
}

/** The simulated "now": all timestamps lie before it. Fixed so data never depends on the clock. */
export const SIMULATED_NOW_MS = Date.UTC(2025, 11, 10, 8, 27, 42, 892); // 2025-12-10T16:27:42.892+0800

const SHANGHAI_OFFSET_MS = 8 * 3600_000;
/** Upper bound on generated projects: keeps generation (and test memory) bounded. */
export const MAX_PROJECTS = 10_000;
const USER_POOL = 200; // > the longest leaderboard (150) so leaderboards hold distinct users

/** `2025-12-08T10:58:10.369+0800`, the group's time zone as the real API writes it. */
export function formatTime(ms: number): string {
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().replace('Z', '+0800');
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses an API timestamp into epoch ms; undefined when it is not one. Strict on purpose:
 * a client that forgets to URL-encode sends `+0800` as ` 0800`, and that must fail here.
 */
export function parseTime(text: string): number | undefined {
  const m = TIME_RE.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac = '0', zone = 'Z'] = m;
  const local = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, +frac.padEnd(3, '0'));
  const check = new Date(local);
  // Date.UTC silently rolls 2025-02-31 over into March; reject such dates instead.
  if (check.getUTCMonth() !== +mo! - 1 || check.getUTCDate() !== +d! || +h! > 23 || +mi! > 59 || +s! > 59) {
    return undefined;
  }
  if (zone === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return local - sign * (+digits.slice(0, 2) * 3600_000 + +digits.slice(2) * 60_000);
}

/** mulberry32: tiny, fast, and good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '马', '朱', '胡', '郭'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '涛', '明', '超', '康', '霞'];
const LOCATIONS = ['北京', '上海', '广东', '浙江', '河南', '四川', '湖北', '江苏'];
const TITLES = ['新手实战指南', '每日英语打卡', '读书笔记', '早起计划', '跑步训练营', '写作练习', '复盘日记', '算法刷题'];
const TEXTS = ['打卡规则：每天提交一次作业，不少于二十字。', '坚持就是胜利，记录每天的进步。', '请附上截图和心得。'];
const TOPIC_TEXTS = ['今天完成1-8任务，收获很多', '第一次打卡，请多指教', '复盘：今天效率不高，明天继续', '读完第三章，做了笔记'];

class Generator {
  private readonly rand: () => number;
  private readonly usedIds = new Set<string>();

  constructor(seed: number) {
    this.rand = prng(seed);
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.rand() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  chance(p: number): boolean {
    return this.rand() < p;
  }

  /** A unique decimal id of `length` digits; 17 digits always exceed 2^53, 15 never do. */
  id(length: number): string {
    for (let attempt = 0; attempt < 100; attempt++) {
      let digits = String(this.int(1, 8));
      for (let i = 1; i < length; i++) digits += String(this.int(0, 9));
      if (!this.usedIds.has(digits)) {
        this.usedIds.add(digits);
        return digits;
      }
    }
    throw new Error(`simulator data: could not draw a unique ${length}-digit id in 100 attempts`);
  }

  user(): SimUser {
    const id = this.id(this.int(12, 15));
    return {
      user_id: id,
      name: this.pick(SURNAMES) + this.pick(GIVEN) + (this.chance(0.5) ? this.pick(GIVEN) : ''),
      alias: '',
      avatar_url: `https://images.example/avatar/${id}.jpg`,
      description: this.chance(0.5) ? '热爱学习，天天向上' : '',
      location: this.pick(LOCATIONS),
    };
  }

  /** `count` distinct users, in random order (partial Fisher-Yates). */
  sample(pool: readonly SimUser[], count: number): SimUser[] {
    const copy = pool.slice();
    const n = Math.min(count, copy.length);
    for (let i = 0; i < n; i++) {
      const j = this.int(i, copy.length - 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  }
}

function ranking(gen: Generator, users: SimUser[], maxDays: number): SimRankingEntry[] {
  const days = users.map(() => gen.int(1, maxDays)).sort((a, b) => b - a);
  return users.map((user, i) => ({ user, rankings: i + 1, checkined_days: days[i]! }));
}

function topics(gen: Generator, pool: readonly SimUser[], count: number, sinceMs: number): SimTopic[] {
  const result: SimTopic[] = [];
  let at = SIMULATED_NOW_MS - gen.int(0, 7_200_000);
  // Gaps of at least one second keep create_time strictly descending, so `end_time` paging is exact.
  const gap = Math.max(1000, Math.floor((at - sinceMs) / (count + 1)));
  for (let i = 0; i < count; i++) {
    const text = `${gen.pick(TOPIC_TEXTS)}（第${count - i}天）`;
    result.push({
      topic_id: gen.id(i === 0 || gen.chance(0.5) ? 17 : 15), // the newest is always > 2^53
      owner: gen.pick(pool),
      text,
      create_time: formatTime(at),
      likes_count: gen.int(0, 30),
      comments_count: gen.int(0, 10),
      reading_count: gen.int(1, 200),
      readers_count: gen.int(1, 100),
      digested: gen.chance(0.1),
    });
    at -= gen.int(1000, gap);
  }
  return result;
}

/** Generates a group of `projects` check-in projects. Same options, same data. */
export function generateData(opts: GenerateOptions): SimulatorData {
  const { projects: projectCount, seed, groupId } = opts;
  if (!Number.isInteger(projectCount) || projectCount < 0 || projectCount > MAX_PROJECTS) {
    throw new RangeError(`simulator data: projects ${projectCount} is not an integer in 0..${MAX_PROJECTS}`);
  }
  if (!/^\d+$/.test(groupId)) throw new RangeError(`simulator data: groupId "${groupId}" is not a decimal id`);
  const gen = new Generator(seed);
  const pool = Array.from({ length: USER_POOL }, () => gen.user());
  const me = gen.user();
  const group = { group_id: groupId, name: '示例星球', type: 'pay', background_url: 'https://images.example/bg.jpg' };

  const projects: SimProject[] = [];
  let createdAt = SIMULATED_NOW_MS - gen.int(3_600_000, 86_400_000);
  for (let i = 0; i < projectCount; i++) {
    const roll = gen.int(0, 99);
    // Index 0 is always ongoing so even a one-project group has something to warm.
    const status: Scope = i === 0 || roll < 70 ? 'ongoing' : roll < 85 ? 'closed' : 'over';
    const type: RankingType = gen.chance(0.5) ? 'accumulated' : 'continuous';
    const empty = i % 7 === 3;
    const checkinDays = gen.int(7, 60);
    const continuous = empty ? [] : ranking(gen, gen.sample(pool, gen.int(0, 150)), checkinDays);
    const accumulated = empty ? [] : ranking(gen, gen.sample(pool, gen.int(0, 150)), checkinDays);
    const joined = Math.max(continuous.length, accumulated.length) + gen.int(0, 20);
    const completed = gen.int(0, Math.floor(joined / 2));
    const today = gen.int(0, joined);
    const longPeriod = gen.chance(0.6);
    projects.push({
      checkin_id: gen.id(gen.int(10, 13)),
      title: `${gen.pick(TITLES)} #${i + 1}`,
      text: gen.pick(TEXTS),
      owner: gen.pick(pool),
      status,
      type,
      checkin_days: checkinDays,
      validity: { long_period: longPeriod, expiration_time: longPeriod ? '' : formatTime(createdAt + checkinDays * 86_400_000) },
      create_time: formatTime(createdAt),
      min_words_count: gen.pick([0, 10, 20, 50]),
      statistics: { joined_count: joined, completed_count: completed, today_checkined_count: today },
      stats: { joined_count: joined, completed_count: completed, checkined_count: gen.int(today, joined) },
      daily: { checkined_count: today },
      rankings: { continuous, accumulated },
      topics: empty ? [] : topics(gen, pool, gen.int(0, 45), createdAt),
      joined_avatars: gen.sample(pool, Math.min(joined, 3)).map((u) => u.avatar_url),
      deleted: false,
    });
    // Strictly older than the previous project, so list paging by end_time is exact.
    createdAt -= gen.int(60_000, 3 * 86_400_000);
  }
  return { group, me, projects };
}

// ---- The wire form ----

/** An id on the wire: a raw JSON number with exact digits, or a string (`topic_uid`). See encodeJson. */
export class WireId {
  constructor(
    readonly digits: string,
    readonly quoted = false,
  ) {}
}

const id = (digits: string): WireId => new WireId(digits);

export const wireUser = (u: SimUser) => ({ user_id: id(u.user_id), name: u.name, alias: u.alias, avatar_url: u.avatar_url });

/** A project as the list and detail endpoints write it. */
export function wireCheckin(p: SimProject, data: SimulatorData) {
  const g = data.group;
  return {
    checkin_id: id(p.checkin_id),
    group: { group_id: id(g.group_id), name: g.name, background_url: g.background_url },
    owner: { user_id: id(p.owner.user_id), name: p.owner.name, avatar_url: p.owner.avatar_url, description: p.owner.description },
    title: p.title,
    text: p.text,
    checkin_days: p.checkin_days,
    validity: { ...p.validity },
    show_topics_on_timeline: false,
    create_time: p.create_time,
    status: p.status,
    type: p.type,
    joined_count: p.statistics.joined_count,
    statistics: { ...p.statistics },
    joined_users: p.joined_avatars.map((avatar_url) => ({ avatar_url })),
    user_specific: { joined: false },
    min_words_count: p.min_words_count,
  };
}

/** A topic as the topics endpoint writes it. */
export function wireTopic(t: SimTopic, p: SimProject, data: SimulatorData) {
  const g = data.group;
  return {
    topic_id: id(t.topic_id),
    topic_uid: new WireId(t.topic_id, true),
    group: { group_id: id(g.group_id), name: g.name, type: g.type, background_url: g.background_url },
    type: 'talk',
    talk: { owner: { ...wireUser(t.owner), location: t.owner.location }, text: t.text },
    likes_count: t.likes_count,
    rewards_count: 0,
    comments_count: t.comments_count,
    reading_count: t.reading_count,
    readers_count: t.readers_count,
    digested: t.digested,
    sticky: false,
    create_time: t.create_time,
    user_specific: { liked: false, liked_emojis: [], subscribed: false },
    checkin: { title: p.title, checkin_id: id(p.checkin_id), min_words_count: p.min_words_count },
    title: t.text.slice(0, 20),
  };
}
