import type { CacheStore } from '../cache/store.js';
import type { JobPlan } from '../definition/parse.js';
import type { Unit } from './units.js';
import { projectListKey } from './projects.js';

/**
 * The keys a unit would have written, as far as they can be named without
 * its answer: every key template whose placeholders the unit fills (`{id}`
 * from the project, any other from the variant); for the projects-list job,
 * also the per-project keys (`{id}` only) of the projects its cached list names.
 */
export async function keysOfUnit(plan: JobPlan, unit: Unit, cache: CacheStore): Promise<string[]> {
  const keys: string[] = [];
  for (const template of Object.values(plan.job.keys)) {
    const params: Record<string, string> = {};
    const fillable = template.placeholders.every((name) => {
      const value = name === 'id' ? unit.projectId : unit.variant;
      if (value !== undefined) params[name] = value;
      return value !== undefined;
    });
    if (fillable) keys.push(template.build(cache.prefix, params));
  }
  const provider = plan.job.providesProjects;
  if (provider && unit.variant !== undefined) {
    const value = await cache.readJson(projectListKey(plan, unit.variant, cache.prefix)).catch(() => undefined);
    const perProject = Object.values(plan.job.keys).filter((t) => t.placeholders.length === 1 && t.placeholders[0] === 'id');
    for (const id of value === undefined ? [] : provider.ids(value)) {
      for (const template of perProject) {
        try {
          keys.push(template.build(cache.prefix, { id }));
        } catch {
          // an id that cannot be a key was never written under one
        }
      }
    }
  }
  return keys;
}

/** Serves stale: extends the TTL of the failed units' keys within the job's maxStale (see CacheStore.extendStale). */
export async function serveStale(plan: JobPlan, units: readonly Unit[], cache: CacheStore): Promise<number> {
  if (units.length === 0 || plan.maxStaleMs <= 0) return 0;
  let extended = 0;
  // Bounded batches: a failed refresh of 10,000 projects is 10,000 keys.
  for (let i = 0; i < units.length; i += 500) {
    const keys = (await Promise.all(units.slice(i, i + 500).map((u) => keysOfUnit(plan, u, cache)))).flat();
    extended += await cache.extendStale(keys, plan.ttlMs, plan.maxStaleMs);
  }
  return extended;
}
