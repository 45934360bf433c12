import type { Upstream } from '../upstream/client.js';
import { UpstreamError } from '../upstream/errors.js';
import type { CacheEntry, CacheStore } from '../cache/store.js';
import type { JobPlan } from '../definition/parse.js';
import type { Output, UnitContext } from '../definition/types.js';

/** One unit of a job's fan-out: a project and/or a variant. */
export interface Unit {
  projectId?: string;
  variant?: string;
}

export function describeUnit(job: string, unit: Unit): string {
  return [job, unit.projectId && `project ${unit.projectId}`, unit.variant].filter(Boolean).join(' ');
}

/**
 * Fetches every page of one unit, validates each against the job's schema and
 * maps the pages to cache entries. Nothing is written here: a unit whose last
 * page fails leaves no partial value behind.
 */
export async function fetchUnit(
  plan: JobPlan,
  unit: Unit,
  context: { upstream: Upstream; cache: CacheStore; groupId: string; timeZone: string; now: Date },
): Promise<{ entries: CacheEntry[]; outputs: Output[] }> {
  const { job } = plan;
  const ctx: UnitContext = {
    groupId: context.groupId,
    timeZone: context.timeZone,
    now: context.now,
    ...(unit.projectId !== undefined ? { projectId: unit.projectId } : {}),
    ...(unit.variant !== undefined ? { variant: unit.variant } : {}),
  };
  const first = job.request(ctx);
  const pages: unknown[] = [];
  let request: ReturnType<typeof job.request> | undefined = first;
  while (request && pages.length < (job.paging?.maxPages ?? 1)) {
    const answer = await context.upstream.get(request);
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
  const entries = outputs.map((output) => {
    const template = job.keys[output.key];
    if (!template) throw new UpstreamError('ERR_UPSTREAM_SHAPE', `${job.file}: map() returned unknown key "${output.key}"`);
    return {
      key: template.build(context.cache.prefix, output.params),
      value: output.value,
      ttlMs: output.empty ? plan.emptyTtlMs : plan.ttlMs,
    };
  });
  return { entries, outputs };
}
