import type { Upstream } from '../upstream/client.js';
import { UpstreamError } from '../upstream/errors.js';
import type { RetryBudget } from '../upstream/retry-budget.js';
import type { CacheEntry, CacheStore } from '../cache/store.js';
import type { JobPlan } from '../definition/parse.js';
import type { Output, UnitContext } from '../definition/types.js';
import { WarmerError } from '../shared/errors.js';

/** One unit of a job's fan-out: a project and/or a variant. */
export interface Unit {
  projectId?: string;
  variant?: string;
}

export interface UnitFetchContext {
  upstream: Upstream;
  cache: CacheStore;
  groupId: string;
  timeZone: string;
  now: Date;
  retryBudget?: RetryBudget;
  /** The job's priority for the rate limit (see limit/upstream-limiter.ts). */
  horizonMs?: number;
  /** Aborted at shutdown. */
  stopping?: AbortSignal;
  /** Asked when a per-project answer is an empty object: is the project deleted? */
  isProjectGone?: (projectId: string) => Promise<boolean>;
}

/** The project was deleted upstream: not a failure; the run caches it as gone. */
export class ProjectGoneError extends WarmerError {
  constructor(readonly projectId: string) {
    super('ERR_UPSTREAM_SHAPE', `project ${projectId} is gone (deleted upstream)`);
  }
}

export function describeUnit(job: string, unit: Unit): string {
  return [job, unit.projectId && `project ${unit.projectId}`, unit.variant].filter(Boolean).join(' ');
}

export function unitContext(context: Pick<UnitFetchContext, 'groupId' | 'timeZone' | 'now'>, unit: Unit): UnitContext {
  return {
    groupId: context.groupId,
    timeZone: context.timeZone,
    now: context.now,
    ...(unit.projectId !== undefined ? { projectId: unit.projectId } : {}),
    ...(unit.variant !== undefined ? { variant: unit.variant } : {}),
  };
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** One unit, fetched and validated: its cache entries and the outputs they were built from. */
export interface FetchedUnit {
  entries: CacheEntry[];
  outputs: Output[];
}

/**
 * Fetches every page of one unit, validates each against the job's schema and
 * maps the pages to cache entries. Nothing is written here: a unit whose last
 * page fails leaves no partial value behind.
 */
export async function fetchUnit(plan: JobPlan, unit: Unit, context: UnitFetchContext): Promise<FetchedUnit> {
  const { job } = plan;
  const ctx = unitContext(context, unit);
  const first = job.request(ctx);
  const pages: unknown[] = [];
  let request: ReturnType<typeof job.request> | undefined = first;
  const requestOptions = {
    ...(context.retryBudget ? { retryBudget: context.retryBudget } : {}),
    ...(context.horizonMs !== undefined ? { horizonMs: context.horizonMs } : {}),
  };
  while (request && pages.length < (job.paging?.maxPages ?? 1)) {
    // Shutdown: a long paged unit stops at the next page, not at the grace deadline.
    if (pages.length > 0 && context.stopping?.aborted) throw new UpstreamError('ERR_ABORTED', `GET ${request.path}: not sent, shutting down`);
    const answer = await context.upstream.get(request, requestOptions);
    if (unit.projectId !== undefined && isEmptyObject(answer.data) && context.isProjectGone && (await context.isProjectGone(unit.projectId))) {
      throw new ProjectGoneError(unit.projectId);
    }
    const parsed = job.response.safeParse(answer.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'resp_data';
      throw new UpstreamError('ERR_UPSTREAM_SHAPE', `GET ${request.path}: unexpected body at ${where}: ${issue?.message ?? 'invalid'}`);
    }
    pages.push(parsed.data);
    request = job.paging?.next(pages, first);
  }
  const outputs = job.map(pages, { ...ctx, cachedAt: context.now.toISOString() });
  return { entries: toEntries(plan, outputs, context.cache.prefix), outputs };
}

/** Builds (and so checks) each output's key; the TTL follows emptiness. */
export function toEntries(plan: JobPlan, outputs: readonly Output[], prefix: string): CacheEntry[] {
  return outputs.map((output) => {
    const template = plan.job.keys[output.key];
    if (!template) throw new UpstreamError('ERR_UPSTREAM_SHAPE', `${plan.job.file}: map() returned unknown key "${output.key}"`);
    return { key: template.build(prefix, output.params), value: output.value, ttlMs: output.empty ? plan.emptyTtlMs : plan.ttlMs };
  });
}
