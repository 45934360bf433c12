import type { ZodType } from 'zod';
import { compileKeyTemplate, type KeyTemplate } from '../cache/keys.js';
import { DefinitionError } from '../shared/errors.js';
import { DURATION_HINT, parseDuration } from '../shared/duration.js';
import { cronError } from '../schedule/cron.js';
import type { JobSettings } from '../../config/load.js';
import type { JobDefinition, Output, Paging, ProjectsProvider, RequestSpec, UnitContext } from './types.js';

/** A definition checked once at start; the engine accepts nothing else. */
export interface ParsedJob {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly fanOut: 'group' | 'projects';
  readonly variants: readonly string[] | undefined;
  readonly requestsPerUnit: number;
  readonly keys: Readonly<Record<string, KeyTemplate>>;
  readonly defaults: Readonly<{ everyMs?: number; cron?: string; alsoAt?: string; ttlMs: number; emptyTtlMs: number }>;
  readonly request: (unit: UnitContext) => RequestSpec;
  readonly response: ZodType<unknown>;
  readonly paging: Paging<unknown> | undefined;
  readonly map: (pages: readonly unknown[], unit: UnitContext & { cachedAt: string }) => Output[];
  readonly providesProjects: ProjectsProvider | undefined;
}

/** A parsed job with the operator's settings applied: what the scheduler and worker run. */
export interface JobPlan {
  readonly job: ParsedJob;
  readonly enabled: boolean;
  readonly everyMs: number | undefined;
  readonly cron: string | undefined;
  readonly alsoAt: string | undefined;
  readonly ttlMs: number;
  readonly emptyTtlMs: number;
  /** While refreshes fail, values are served (their TTL extended) until they are this old; 0 turns it off. */
  readonly maxStaleMs: number;
}

const NAME = /^[a-z][a-z0-9-]{0,40}$/;
const KNOWN_FIELDS = new Set(['name', 'description', 'schedule', 'ttl', 'emptyTtl', 'fanOut', 'variants', 'requestsPerUnit', 'keys', 'request', 'response', 'paging', 'map', 'providesProjects']);

export function parseJob(raw: unknown, file: string): ParsedJob {
  const fail = (field: string, problem: string): never => {
    throw new DefinitionError(`${file}: ${field} ${problem}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('default export', 'must be a job definition object');
  const def = raw as Partial<JobDefinition<unknown>> & Record<string, unknown>;
  for (const field of Object.keys(def)) if (!KNOWN_FIELDS.has(field)) fail(field, 'is not a field of a job definition');

  if (typeof def.name !== 'string' || !NAME.test(def.name)) fail('name', `${JSON.stringify(def.name)} must match ${NAME}`);
  if (typeof def.description !== 'string') fail('description', 'must be a string');
  const duration = (field: 'ttl' | 'emptyTtl') => {
    const ms = parseDuration(def[field]);
    if (ms === undefined || ms <= 0) fail(field, `${JSON.stringify(def[field])} is not a positive duration (${DURATION_HINT})`);
    return ms!;
  };
  const schedule = def.schedule ?? fail('schedule', 'is missing');
  rejectUnknown(schedule, ['every', 'cron', 'alsoAt'], 'schedule', fail);
  if (def.paging !== undefined) rejectUnknown(def.paging, ['next', 'maxPages'], 'paging', fail);
  if (def.providesProjects !== undefined) rejectUnknown(def.providesProjects, ['key', 'ids', 'detail', 'isGone', 'gone'], 'providesProjects', fail);
  const everyMs = schedule.every === undefined ? undefined : parseDuration(schedule.every);
  if (schedule.every !== undefined && (everyMs === undefined || everyMs <= 0)) {
    fail('schedule.every', `${JSON.stringify(schedule.every)} is not a positive duration (${DURATION_HINT})`);
  }
  if ((schedule.every === undefined) === (schedule.cron === undefined)) fail('schedule', 'needs exactly one of every or cron');
  for (const field of ['cron', 'alsoAt'] as const) {
    const pattern = schedule[field];
    if (pattern !== undefined) {
      const problem = typeof pattern === 'string' ? cronError(pattern) : 'must be a string';
      if (problem) fail(`schedule.${field}`, `${JSON.stringify(pattern)} is not a valid cron expression (${problem})`);
    }
  }
  if (def.fanOut !== 'group' && def.fanOut !== 'projects') fail('fanOut', 'must be "group" or "projects"');
  if (def.variants !== undefined && (!Array.isArray(def.variants) || def.variants.length === 0 || def.variants.some((v) => typeof v !== 'string'))) {
    fail('variants', 'must be a non-empty list of strings');
  }
  if (def.requestsPerUnit !== undefined && !(typeof def.requestsPerUnit === 'number' && def.requestsPerUnit > 0)) {
    fail('requestsPerUnit', 'must be a number greater than zero');
  }
  if (typeof def.keys !== 'object' || def.keys === null || Object.keys(def.keys).length === 0) fail('keys', 'must name at least one key template');
  const keys: Record<string, KeyTemplate> = {};
  for (const [name, template] of Object.entries(def.keys!)) {
    try {
      keys[name] = compileKeyTemplate(template);
    } catch (error) {
      fail(`keys.${name}`, (error as Error).message);
    }
  }
  for (const fn of ['request', 'map'] as const) if (typeof def[fn] !== 'function') fail(fn, 'must be a function');
  if (typeof (def.response as { safeParse?: unknown } | undefined)?.safeParse !== 'function') fail('response', 'must be a zod schema');
  if (def.paging !== undefined && (typeof def.paging.next !== 'function' || !(def.paging.maxPages >= 1))) {
    fail('paging', 'needs next() and maxPages >= 1');
  }
  if (def.providesProjects !== undefined) {
    if (!(def.providesProjects.key in keys)) fail('providesProjects.key', `"${def.providesProjects.key}" is not one of keys`);
    if (def.fanOut !== 'group') fail('providesProjects', 'needs fanOut "group"');
    for (const fn of ['ids', 'detail', 'isGone', 'gone'] as const) {
      if (typeof def.providesProjects[fn] !== 'function') fail(`providesProjects.${fn}`, 'must be a function');
    }
  }

  return Object.freeze({
    file,
    name: def.name!,
    description: def.description!,
    fanOut: def.fanOut!,
    variants: def.variants ? Object.freeze([...def.variants]) : undefined,
    requestsPerUnit: def.requestsPerUnit ?? 1,
    keys: Object.freeze(keys),
    defaults: Object.freeze({
      ...(everyMs !== undefined ? { everyMs } : {}),
      ...(schedule.cron !== undefined ? { cron: schedule.cron } : {}),
      ...(schedule.alsoAt !== undefined ? { alsoAt: schedule.alsoAt } : {}),
      ttlMs: duration('ttl'),
      emptyTtlMs: duration('emptyTtl'),
    }),
    request: def.request!,
    response: def.response as ZodType<unknown>,
    paging: def.paging as Paging<unknown> | undefined,
    map: def.map! as ParsedJob['map'],
    providesProjects: def.providesProjects,
  });
}

/** A typo in a nested field (`alsoat`) must not silently drop what it meant to set. */
function rejectUnknown(value: object, allowed: readonly string[], where: string, fail: (field: string, problem: string) => never): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(`${where}.${key}`, `is not a field of ${where}`);
}

/** Applies the operator's per-job settings (null: keep the job file's). */
export function planJob(job: ParsedJob, settings: JobSettings | undefined, defaultMaxStaleMs = 24 * 3_600_000): JobPlan {
  const cron = settings?.cron ?? (settings?.everyMs ? undefined : job.defaults.cron);
  const everyMs = settings?.everyMs ?? (settings?.cron ? undefined : job.defaults.everyMs);
  const alsoAt = settings?.alsoAt === false ? undefined : (settings?.alsoAt ?? job.defaults.alsoAt);
  return Object.freeze({
    job,
    enabled: settings?.enabled ?? true,
    everyMs,
    cron,
    alsoAt,
    ttlMs: settings?.ttlMs ?? job.defaults.ttlMs,
    emptyTtlMs: settings?.emptyTtlMs ?? job.defaults.emptyTtlMs,
    maxStaleMs: settings?.maxStaleMs ?? defaultMaxStaleMs,
  });
}
