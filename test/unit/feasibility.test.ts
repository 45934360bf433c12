import { describe, expect, it } from 'vitest';
import dailyStats from '../../jobs/daily-stats.js';
import leaderboards from '../../jobs/leaderboards.js';
import projectStats from '../../jobs/project-stats.js';
import projectsList from '../../jobs/projects-list.js';
import topics from '../../jobs/topics.js';
import { parseJob, planJob, type JobPlan } from '../../src/definition/parse.js';
import { cadenceOf, feasibility } from '../../src/schedule/feasibility.js';
import { jobSettings } from '../support/plans.js';

const TZ = 'Asia/Shanghai';
const plans = (overrides: Record<string, Partial<Parameters<typeof planJob>[1]>> = {}): JobPlan[] =>
  [projectsList, projectStats, leaderboards, dailyStats, topics].map((def) => {
    const job = parseJob(def, `jobs/${def.name}.ts`);
    const settings = overrides[job.name];
    return planJob(job, settings ? jobSettings(settings) : undefined);
  });

describe('feasibility of the cadences under the rate limit', () => {
  it('adds up the request rate of every job from the projects count and the cadences', () => {
    const fit = feasibility(plans(), 100, 10, TZ);
    const rate = Object.fromEntries(fit.jobs.map((j) => [j.job, j.requestsPerSecond]));
    expect(rate.topics).toBeCloseTo(100 / 300, 5); // 100 requests every 5 min
    expect(rate.leaderboards).toBeCloseTo((100 * 2 * 2) / 1800, 5); // 2 types, 2 pages each, every 30 min
    expect(rate['projects-list']).toBeCloseTo(3 / 3600, 5); // one page per scope, hourly
    // daily-stats: every 15 min plus once after midnight: 97 runs a day.
    expect(fit.jobs.find((j) => j.job === 'daily-stats')!.cadenceMs).toBeCloseTo(86_400_000 / 97, 0);
    expect(fit.fits).toBe(true);
    expect(fit.warnings).toEqual([]);
  });

  it('warns with the rate a job needs, the limit, and a cadence that would fit', () => {
    const fit = feasibility(plans(), 10_000, 10, TZ);
    expect(fit.fits).toBe(false);
    expect(fit.warnings[0]).toMatch(/^topics needs 33 req\/s for 10000 projects every 5m; limit is 10 req\/s for all jobs \(\d+ needed\); every \d+m would fit$/);
    // The suggested cadence does fit: stretch topics alone by the factor and see.
    const factor = fit.neededPerSecond / 10;
    expect(Number(/every (\d+)m would fit/.exec(fit.warnings[0]!)![1]) * 60_000).toBeGreaterThanOrEqual(300_000 * factor);
  });

  it('treats a limit of 0 as unlimited, and leaves disabled jobs out', () => {
    expect(feasibility(plans(), 10_000, 0, TZ).fits).toBe(true);
    const fit = feasibility(plans({ topics: { enabled: false } }), 100, 10, TZ);
    expect(fit.jobs.map((j) => j.job)).not.toContain('topics');
  });

  it('reads a cron cadence from croner', () => {
    const [plan] = plans({ 'projects-list': { cron: '0 */20 * * * *' } });
    expect(cadenceOf(plan!, TZ)).toBe(20 * 60_000);
  });
});
