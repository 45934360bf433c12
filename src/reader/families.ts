import { compileKeyTemplate, type KeyTemplate } from '../cache/keys.js';
import { cachedAt, id, list, object, same, user, type Fail } from './check.js';
import type { DailyStats, GoneProject, Leaderboard, ProjectInfo, ProjectStats, ProjectsList, Topics } from './values.js';

/** The key families of the contract, named as the reader's methods. */
export interface FamilyData {
  projectsList: ProjectsList;
  projectInfo: ProjectInfo | GoneProject;
  projectStats: ProjectStats;
  leaderboard: Leaderboard;
  dailyStats: DailyStats;
  topics: Topics;
}
export type FamilyName = keyof FamilyData;

interface Family<T> {
  /** The key template of the job writing the family (test/integration/reader.test.ts checks they agree). */
  readonly key: KeyTemplate;
  /** The contract's default cadence of that job: a value older than this is being served stale. */
  readonly maxAgeMs: number;
  /** Checks what apps rely on; `params` are the key's, so a value is checked against the key it was read from. */
  check(value: Record<string, unknown>, params: Readonly<Record<string, string>>, fail: Fail): T;
}

const MINUTE = 60_000;

function projectOf(value: Record<string, unknown>, params: Readonly<Record<string, string>>, fail: Fail): void {
  same(id(value.project_id, 'project_id', fail), params.id!, 'project_id', fail);
}

export const FAMILIES: { readonly [F in FamilyName]: Family<FamilyData[F]> } = {
  projectsList: {
    key: compileKeyTemplate('projects:list:{scope}'),
    maxAgeMs: 60 * MINUTE,
    check(value, params, fail) {
      same(value.scope, params.scope!, 'scope', fail);
      list(value.projects, 'projects', fail).forEach((p, i) => id(object(p, `projects[${i}]`, fail).project_id, `projects[${i}].project_id`, fail));
      return value as unknown as ProjectsList;
    },
  },
  projectInfo: {
    key: compileKeyTemplate('project:{id}:info'),
    maxAgeMs: 60 * MINUTE,
    check(value, params, fail) {
      projectOf(value, params, fail);
      // A project deleted upstream is cached as gone: no owner, no counts.
      if (value.gone !== true) user(value.owner, 'owner', fail);
      return value as unknown as ProjectInfo | GoneProject;
    },
  },
  projectStats: {
    key: compileKeyTemplate('project:{id}:stats'),
    maxAgeMs: 30 * MINUTE,
    check(value, params, fail) {
      projectOf(value, params, fail);
      return value as unknown as ProjectStats;
    },
  },
  leaderboard: {
    key: compileKeyTemplate('project:{id}:leaderboard:{type}'),
    maxAgeMs: 30 * MINUTE,
    check(value, params, fail) {
      projectOf(value, params, fail);
      same(value.type, params.type!, 'type', fail);
      list(value.rankings, 'rankings', fail).forEach((r, i) => user(object(r, `rankings[${i}]`, fail).user, `rankings[${i}].user`, fail));
      return value as unknown as Leaderboard;
    },
  },
  dailyStats: {
    key: compileKeyTemplate('project:{id}:daily_stats'),
    maxAgeMs: 15 * MINUTE,
    check(value, params, fail) {
      projectOf(value, params, fail);
      if (typeof value.date !== 'string' || !/^\d{4}-\d\d-\d\d$/.test(value.date)) fail('date is not YYYY-MM-DD');
      return value as unknown as DailyStats;
    },
  },
  topics: {
    key: compileKeyTemplate('project:{id}:topics'),
    maxAgeMs: 5 * MINUTE,
    check(value, params, fail) {
      projectOf(value, params, fail);
      list(value.topics, 'topics', fail).forEach((t, i) => {
        const topic = object(t, `topics[${i}]`, fail);
        id(topic.topic_id, `topics[${i}].topic_id`, fail);
        // A topic without an author is stored with user: null.
        if (topic.user !== null) user(topic.user, `topics[${i}].user`, fail);
      });
      return value as unknown as Topics;
    },
  },
};

/** Each family's default max age (its job's default cadence), for callers that want to show or scale it. */
export const DEFAULT_MAX_AGE_MS: { readonly [F in FamilyName]: number } = Object.freeze(
  Object.fromEntries(Object.entries(FAMILIES).map(([name, family]) => [name, family.maxAgeMs])) as { [F in FamilyName]: number },
);

/** Parses the stored value of a key and checks it as its family's; `cached_at` as a Date alongside. */
export function parseValue<F extends FamilyName>(family: F, text: string, params: Readonly<Record<string, string>>, fail: Fail): { data: FamilyData[F]; cachedAt: Date } {
  let parsed: unknown;
  try {
    // Plain JSON.parse is exact here: the daemon writes every id as a JSON string.
    parsed = JSON.parse(text);
  } catch (error) {
    fail('value is not JSON', error);
  }
  const value = object(parsed, 'value', fail);
  const at = cachedAt(value, fail);
  return { data: (FAMILIES[family] as Family<FamilyData[F]>).check(value, params, fail), cachedAt: at };
}
