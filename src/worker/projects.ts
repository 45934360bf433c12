import type { CacheStore } from '../cache/store.js';
import type { JobPlan } from '../definition/parse.js';
import { isIdString } from '../shared/ids.js';
import { WarmerError } from '../shared/errors.js';
import { fetchUnit } from './units.js';
import type { Upstream } from '../upstream/client.js';

export interface ProjectSourceContext {
  upstream: Upstream;
  cache: CacheStore;
  groupId: string;
  timeZone: string;
  scopes: readonly string[];
}

/**
 * The projects that per-project jobs fan out over: those the project-list job
 * (the one that `providesProjects`) names for the configured scopes. The
 * warmed list is read from the cache; a scope whose list is not warm yet is
 * fetched (and warmed) now, so that `--once topics` works on an empty cache.
 */
export async function listProjects(provider: JobPlan | undefined, context: ProjectSourceContext): Promise<string[]> {
  if (!provider?.job.providesProjects) {
    throw new WarmerError('ERR_DEFINITION', 'no job declares providesProjects: per-project jobs have nothing to fan out over');
  }
  const { key, ids } = provider.job.providesProjects;
  const template = provider.job.keys[key]!;
  const all = new Set<string>();
  for (const scope of context.scopes) {
    const params = Object.fromEntries(template.placeholders.map((p) => [p, scope]));
    let value = await context.cache.readJson(template.build(context.cache.prefix, params));
    if (value === undefined) {
      const { entries, outputs } = await fetchUnit(provider, { variant: scope }, { ...context, now: new Date() });
      await context.cache.write(entries);
      value = outputs.find((o) => o.key === key)?.value;
    }
    for (const id of ids(value ?? {})) if (isIdString(id)) all.add(id);
  }
  return [...all];
}
