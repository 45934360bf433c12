import type { CacheStore, WriteTotals } from '../cache/store.js';
import { internalKeys } from '../cache/keys.js';
import type { JobPlan } from '../definition/parse.js';
import { isIdString } from '../shared/ids.js';
import { WarmerError } from '../shared/errors.js';
import { fetchUnit, toEntries, unitContext, type FetchedUnit, type UnitFetchContext } from './units.js';
import type { Upstream } from '../upstream/client.js';

export interface ProjectSourceContext {
  upstream: Upstream;
  cache: CacheStore;
  groupId: string;
  timeZone: string;
  scopes: readonly string[];
}

function providerOf(provider: JobPlan | undefined): JobPlan & { job: { providesProjects: NonNullable<JobPlan['job']['providesProjects']> } } {
  if (!provider?.job.providesProjects) {
    throw new WarmerError('ERR_DEFINITION', 'no job declares providesProjects: per-project jobs have nothing to fan out over');
  }
  return provider as ReturnType<typeof providerOf>;
}

/** The key of the provider's project list for one scope (its variant). */
export function projectListKey(plan: JobPlan, scope: string, prefix: string): string {
  const template = plan.job.keys[plan.job.providesProjects!.key]!;
  return template.build(prefix, Object.fromEntries(template.placeholders.map((p) => [p, scope])));
}

/**
 * The projects that per-project jobs fan out over: those the project-list job
 * (the one that `providesProjects`) names for the configured scopes, less the
 * projects found deleted since. The warmed list is read from the cache; a
 * scope whose list is not warm yet is fetched (and warmed) now, so that
 * `--once topics` works on an empty cache.
 */
export async function listProjects(provider: JobPlan | undefined, context: ProjectSourceContext): Promise<string[]> {
  const plan = providerOf(provider);
  const { key, ids } = plan.job.providesProjects;
  const all = new Set<string>();
  for (const scope of context.scopes) {
    const listKey = projectListKey(plan, scope, context.cache.prefix);
    // The read is shared too: a caller that read "not warm" just before another finished fetching would fetch again.
    const value = await sharedWhileInFlight(`read ${listKey}`, context.cache, async () => (await context.cache.readJson(listKey)) ?? fetchList(plan, scope, key, context));
    for (const id of ids(value ?? {})) if (isIdString(id)) all.add(id);
  }
  const gone = await context.cache.goneProjects(internalKeys.goneProjects(context.cache.prefix));
  return [...all].filter((id) => !gone.has(id));
}

async function fetchList(plan: JobPlan, scope: string, key: string, context: ProjectSourceContext): Promise<unknown> {
  const { outputs } = await warmProviderScope(plan, scope, { ...context, now: new Date() });
  return outputs.find((o) => o.key === key)?.value;
}

/** One scope of the provider's list, fetched and written. */
export interface WarmedScope {
  outputs: FetchedUnit['outputs'];
  written: WriteTotals;
}

/**
 * Fetches one scope of the provider's list (one unit of the projects-list
 * job) and writes its keys, sharing a fetch-and-write of the same scope
 * already in flight in this process. On a cold start the projects-list run
 * and the per-project jobs' first runs all want the ongoing list at the same
 * moment: one fetch, not two, holding one copy of every page and spending the
 * rate limit once. The write is part of what is shared: until it is done the
 * list is not warm, and a caller that came then would fetch again. Whoever
 * joins gets the values of the fetch that was started first (its `cached_at`
 * may be a moment before the joining run started).
 */
export function warmProviderScope(plan: JobPlan, scope: string, context: UnitFetchContext): Promise<WarmedScope> {
  const listKey = projectListKey(plan, scope, context.cache.prefix);
  return sharedWhileInFlight(`fetch ${listKey}`, context.cache, async () => {
    const { entries, outputs } = await fetchUnit(plan, { variant: scope }, context);
    return { outputs, written: await context.cache.write(entries) };
  });
}

/** Whether a unit of `plan` is one scope of the provider's list (fetched through fetchProviderScope). */
export function isProviderScope(plan: JobPlan, unit: { projectId?: string; variant?: string }): unit is { variant: string } {
  return plan.job.providesProjects !== undefined && unit.projectId === undefined && unit.variant !== undefined;
}

/**
 * Reads and fetches of a list in flight, per cache store and key: on a cold
 * start every per-project job's first run wants the same list at the same
 * moment. Each fetching it would page through the whole list once per job,
 * holding every page (with 10,000 projects, the largest live heap of the
 * warm-up) and spending the rate limit four times over. Shared only while in
 * flight: a failure is not remembered, the next run tries again.
 */
const inFlight = new WeakMap<CacheStore, Map<string, Promise<unknown>>>();

function sharedWhileInFlight<T>(key: string, cache: CacheStore, start: () => Promise<T>): Promise<T> {
  let running = inFlight.get(cache);
  if (!running) inFlight.set(cache, (running = new Map()));
  const joined = running.get(key) as Promise<T> | undefined;
  if (joined) return joined;
  const fetched = start().finally(() => running.delete(key));
  running.set(key, fetched);
  return fetched;
}

/** Asks the project's detail whether it was deleted (an empty answer elsewhere may be a glitch). */
export async function isProjectGone(provider: JobPlan | undefined, projectId: string, context: Omit<UnitFetchContext, 'isProjectGone'>): Promise<boolean> {
  const plan = providerOf(provider);
  const answer = await context.upstream.get(plan.job.providesProjects.detail(unitContext(context, { projectId })));
  return plan.job.providesProjects.isGone(answer.data);
}

/**
 * Caches a deleted project as gone: its info says so (with the provider's
 * TTL) and it leaves the fan-out until the projects list, refreshed, no
 * longer names it (the mark expires with the list's TTL).
 */
export async function markProjectGone(provider: JobPlan | undefined, projectId: string, cache: CacheStore, now: Date): Promise<void> {
  const plan = providerOf(provider);
  const output = plan.job.providesProjects.gone(projectId, now.toISOString());
  await cache.write(toEntries(plan, [output], cache.prefix));
  await cache.addGoneProject(internalKeys.goneProjects(cache.prefix), projectId, plan.ttlMs);
}

/** How many projects the warmed lists name for the scopes, without asking the upstream (0 when none is warm). */
export async function countCachedProjects(provider: JobPlan | undefined, cache: CacheStore, scopes: readonly string[]): Promise<number> {
  if (!provider?.job.providesProjects) return 0;
  const all = new Set<string>();
  for (const scope of scopes) {
    const value = await cache.readJson(projectListKey(provider, scope, cache.prefix)).catch(() => undefined);
    for (const id of value === undefined ? [] : provider.job.providesProjects.ids(value)) all.add(id);
  }
  return all.size;
}
