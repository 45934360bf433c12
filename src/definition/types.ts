import type { z } from 'zod';

/**
 * The shape of a file in jobs/. A definition is data plus pure functions: it
 * says what to ask the upstream and how the answer maps to the cache contract,
 * and never performs I/O itself, so it is testable without a network.
 */

/** One upstream request: a path under the base URL and its query. */
export interface RequestSpec {
  path: string;
  query?: Record<string, string | number>;
}

/** What a definition's functions are told about the unit of work at hand. */
export interface UnitContext {
  /** The configured group id (decimal string). */
  groupId: string;
  /** The project id, when the job fans out over projects. */
  projectId?: string;
  /** The variant (e.g. a leaderboard type or a projects-list scope), when the job declares variants. */
  variant?: string;
  /** When the refresh started; every value of one run shares it as `cached_at`. */
  now: Date;
  /** The group's IANA time zone. */
  timeZone: string;
}

/** One key to write: `key` names one of the definition's `keys`, `params` fill its placeholders. */
export interface Output {
  key: string;
  params: Record<string, string>;
  value: Record<string, unknown>;
  /** Empty answers are cached with the definition's `emptyTtl` instead of `ttl`. */
  empty: boolean;
}

export interface Paging<Page> {
  /** The request for the page after `pages` (all pages so far), or undefined when the list has ended. */
  next(pages: readonly Page[], first: RequestSpec): RequestSpec | undefined;
  /** Hard bound on pages per unit, whatever the upstream says. */
  maxPages: number;
}

/** The raw form, as written in a jobs/ file. Durations accept `500ms`, `30s`, `5m`, `2h` or milliseconds. */
export interface JobDefinition<Page = unknown> {
  /** The job's name in the CLI, the status store and logs (`[a-z][a-z0-9-]*`). */
  name: string;
  description: string;
  /** Default cadence: exactly one of `every` or `cron`; `alsoAt` adds a cron run in the group's time zone. */
  schedule: { every?: string | number; cron?: string; alsoAt?: string };
  /** TTL of data. */
  ttl: string | number;
  /** TTL of an empty answer: short, so a stale empty list does not outlive an outage. */
  emptyTtl: string | number;
  /** `group`: one unit per variant; `projects`: one unit per project (and variant) of the configured scopes. */
  fanOut: 'group' | 'projects';
  /** Upstream requests one unit usually makes (pages included), for the feasibility check. @defaultValue 1 */
  requestsPerUnit?: number;
  /** Several units per target, e.g. leaderboard types. */
  variants?: readonly string[];
  /** Key templates under the prefix, e.g. `project:{id}:topics`. Placeholders: `{id}` (decimal id) and `{variant}`-like words. */
  keys: Readonly<Record<string, string>>;
  /** The first request of a unit. */
  request(unit: UnitContext): RequestSpec;
  /** Validates (and may transform) one page's `resp_data`. */
  response: z.ZodType<Page>;
  paging?: Paging<Page>;
  /** Maps the unit's pages to the keys to write. */
  map(pages: readonly Page[], unit: UnitContext & { cachedAt: string }): Output[];
  /**
   * Declares that this job's `key` values list the group's projects: per-project
   * jobs fan out over `ids(value)` of the configured scopes (the variants).
   */
  providesProjects?: ProjectsProvider;
}

/** What the job that lists projects tells the engine about projects. */
export interface ProjectsProvider {
  /** The key (of `keys`) whose values list the projects of one scope (the variant). */
  key: string;
  /** The project ids in such a value. */
  ids(value: unknown): string[];
  /** The request for one project's detail: asked when a per-project answer is empty, to tell a deleted project from a glitch. */
  detail(unit: UnitContext): RequestSpec;
  /** Whether a detail answer (`resp_data`) says the project is gone. */
  isGone(data: unknown): boolean;
  /** What to cache for a gone project: an output for one of `keys`. */
  gone(projectId: string, cachedAt: string): Output;
}

/** Identity with types: lets a jobs/ file be checked against the interface with inference of `Page`. */
export function defineJob<Page>(definition: JobDefinition<Page>): JobDefinition<Page> {
  return definition;
}
