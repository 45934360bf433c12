import type { Queue } from 'bullmq';
import type { JobPlan } from '../definition/parse.js';
import type { CacheStore } from '../cache/store.js';
import { describeSchedule, nextRunAt } from '../schedule/schedulers.js';
import { feasibility, type Feasibility } from '../schedule/feasibility.js';
import { countCachedProjects } from '../worker/projects.js';
import type { JobStatus, StatusStore } from './store.js';

/**
 * The document of `cache-warmer status --json` and of the daemon's
 * `GET /status`: a public interface, so fields are only ever added.
 */
export interface StatusDocument {
  jobs: Array<JobStatus & { schedule: string; nextRunAt: string | null }>;
  /** Whether the cadences fit the upstream rate limit for the projects the warmed lists name. */
  feasibility: Pick<Feasibility, 'neededPerSecond' | 'limitPerSecond' | 'fits' | 'warnings'> & { projects: number };
}

export interface StatusSources {
  plans: ReadonlyMap<string, JobPlan>;
  store: StatusStore;
  /** For the schedulers' next runs. */
  queue: Pick<Queue, 'getJobSchedulers'>;
  /** For the number of projects the warmed lists name (feasibility). */
  cache: CacheStore;
  scopes: readonly string[];
  rateLimit: number;
  timeZone: string;
}

/** The status store joined with the schedule: every configured job, then any other job that ever ran. */
export async function buildStatusDocument(sources: StatusSources, now = Date.now()): Promise<StatusDocument> {
  const { plans, store, timeZone } = sources;
  const names = [...new Set([...plans.keys(), ...(await store.knownJobs())])];
  const [statuses, schedulers, projects] = await Promise.all([
    store.read(names, now),
    sources.queue.getJobSchedulers(0, -1, true),
    countCachedProjects([...plans.values()].find((p) => p.job.providesProjects), sources.cache, sources.scopes),
  ]);
  const fit = feasibility([...plans.values()], projects, sources.rateLimit, timeZone);
  return {
    feasibility: { projects, neededPerSecond: fit.neededPerSecond, limitPerSecond: fit.limitPerSecond, fits: fit.fits, warnings: fit.warnings },
    jobs: statuses.map((s) => {
      const plan = plans.get(s.name);
      const next = plan ? nextRunAt(plan, timeZone, schedulers) : undefined;
      return {
        ...s,
        schedule: plan ? describeSchedule(plan, timeZone) : 'removed',
        nextRunAt: next ? next.toISOString() : null,
      };
    }),
  };
}
