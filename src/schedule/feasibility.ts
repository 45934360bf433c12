import type { JobPlan } from '../definition/parse.js';
import { formatDuration } from '../shared/duration.js';
import { nextCronRun } from './cron.js';

export interface JobLoad {
  job: string;
  /** Upstream requests one run makes (an estimate: paging may add some). */
  requestsPerRun: number;
  /** Mean time between runs. */
  cadenceMs: number;
  requestsPerSecond: number;
}

export interface Feasibility {
  /** Requests per second all enabled jobs need together. */
  neededPerSecond: number;
  limitPerSecond: number;
  fits: boolean;
  jobs: JobLoad[];
  /** One line per job when it does not fit, e.g. "topics needs 33 req/s for 10000 projects every 5m; limit is 10 req/s; every 17m would fit". */
  warnings: string[];
}

/** Mean interval of a plan: `every`, or the gap between a cron's next two runs (plus its alsoAt runs). */
export function cadenceOf(plan: JobPlan, timeZone: string, now = new Date()): number | undefined {
  const runsPerDay = (pattern: string) => {
    const first = nextCronRun(pattern, timeZone, now);
    const second = first && nextCronRun(pattern, timeZone, first);
    return first && second ? 86_400_000 / (second.getTime() - first.getTime()) : 0;
  };
  let perDay = plan.everyMs ? 86_400_000 / plan.everyMs : plan.cron ? runsPerDay(plan.cron) : 0;
  if (plan.alsoAt) perDay += runsPerDay(plan.alsoAt);
  return perDay > 0 ? 86_400_000 / perDay : undefined;
}

/**
 * The request rate a configuration needs, from the projects count, the
 * cadences and each job's requests per unit, against the fleet's limit.
 * A limit of 0 means unlimited: everything fits.
 */
export function feasibility(plans: readonly JobPlan[], projects: number, limitPerSecond: number, timeZone: string): Feasibility {
  const jobs: JobLoad[] = [];
  for (const plan of plans) {
    if (!plan.enabled) continue;
    const cadenceMs = cadenceOf(plan, timeZone);
    if (!cadenceMs) continue;
    const variants = plan.job.variants?.length ?? 1;
    const units = plan.job.fanOut === 'projects' ? projects * variants : variants;
    const requestsPerRun = units * plan.job.requestsPerUnit;
    jobs.push({ job: plan.job.name, requestsPerRun, cadenceMs, requestsPerSecond: requestsPerRun / (cadenceMs / 1000) });
  }
  const neededPerSecond = jobs.reduce((n, j) => n + j.requestsPerSecond, 0);
  const fits = limitPerSecond <= 0 || neededPerSecond <= limitPerSecond;
  const warnings = fits
    ? []
    : jobs
        .filter((j) => j.requestsPerSecond > 0)
        .sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)
        .map((j) => {
          // Stretching every cadence by the same factor makes the whole fit.
          const fitting = Math.ceil((j.cadenceMs * (neededPerSecond / limitPerSecond)) / 60_000) * 60_000;
          return `${j.job} needs ${round(j.requestsPerSecond)} req/s for ${projects} projects every ${formatDuration(j.cadenceMs)}; limit is ${round(limitPerSecond)} req/s for all jobs (${round(neededPerSecond)} needed); every ${formatDuration(fitting)} would fit`;
        });
  return { neededPerSecond, limitPerSecond, fits, jobs, warnings };
}

function round(n: number): string {
  return n >= 10 ? String(Math.round(n)) : n.toFixed(2).replace(/\.?0+$/, '');
}
