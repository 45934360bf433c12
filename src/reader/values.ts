/**
 * The values apps read, as the cache contract (shared/cache-contract.md)
 * describes them. Ids are strings holding the upstream's exact digits: many
 * are above 2^53 and would be rounded as numbers. The daemon may add fields,
 * never rename or drop these.
 */

/** Scopes of the projects list. */
export type Scope = 'ongoing' | 'closed' | 'over';
/** Leaderboard types. */
export type LeaderboardType = 'continuous' | 'accumulated';

export const SCOPES: readonly Scope[] = ['ongoing', 'closed', 'over'];
export const LEADERBOARD_TYPES: readonly LeaderboardType[] = ['continuous', 'accumulated'];

export interface User {
  user_id: string;
  name: string;
  avatar_url: string;
}

/** One project of a projects list. */
export interface ProjectSummary {
  project_id: string;
  title: string;
  status: string;
  type: string;
  total_members: number;
  completed_members: number;
  today_checkins: number;
  create_time: string;
}

/** `{p}:projects:list:{scope}` */
export interface ProjectsList {
  scope: Scope;
  projects: ProjectSummary[];
  total: number;
  /** ISO-8601 UTC instant the data was fetched. */
  cached_at: string;
}

/** `{p}:project:{id}:info` of a live project. */
export interface ProjectInfo {
  project_id: string;
  title: string;
  text: string;
  status: string;
  type: string;
  checkin_days: number;
  min_words_count: number;
  create_time: string;
  /** null for a long-period project. */
  expiration_time: string | null;
  owner: User;
  total_members: number;
  completed_members: number;
  today_checkins: number;
  gone?: undefined;
  cached_at: string;
}

/** `{p}:project:{id}:info` of a project deleted upstream. */
export interface GoneProject {
  project_id: string;
  status: 'deleted';
  gone: true;
  cached_at: string;
}

/** `{p}:project:{id}:stats` */
export interface ProjectStats {
  project_id: string;
  total_members: number;
  completed_members: number;
  total_checkins: number;
  cached_at: string;
}

export interface Ranking {
  rank: number;
  user: User;
  days: number;
}

/** `{p}:project:{id}:leaderboard:{type}`: at most 100 rankings, best first. */
export interface Leaderboard {
  project_id: string;
  type: LeaderboardType;
  rankings: Ranking[];
  /** How many rankings were stored. */
  total: number;
  cached_at: string;
}

/** `{p}:project:{id}:daily_stats` */
export interface DailyStats {
  project_id: string;
  /** The group's local day, `YYYY-MM-DD`. */
  date: string;
  total_checkins: number;
  cached_at: string;
}

export interface Topic {
  topic_id: string;
  title: string;
  text: string;
  create_time: string;
  /** null when the upstream sent no author. */
  user: User | null;
  likes_count: number;
  comments_count: number;
  reading_count: number;
}

/** `{p}:project:{id}:topics`: the 20 latest, newest first. */
export interface Topics {
  project_id: string;
  topics: Topic[];
  cached_at: string;
}
