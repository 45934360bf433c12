import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import dailyStats from '../../jobs/daily-stats.js';
import leaderboards from '../../jobs/leaderboards.js';
import projectStats from '../../jobs/project-stats.js';
import projectsList from '../../jobs/projects-list.js';
import topics from '../../jobs/topics.js';
import type { JobSettings } from '../../config/load.js';
import { jobSettings } from '../support/plans.js';
import { parseJob, planJob, type JobPlan } from '../../src/definition/parse.js';
import { cronError, nextCronRun } from '../../src/schedule/cron.js';
import { describeSchedule, desiredSchedulers, nextRunAt } from '../../src/schedule/schedulers.js';

const TZ = 'Asia/Shanghai';

const settings = jobSettings;

const parsed = {
  'daily-stats': parseJob(dailyStats, 'jobs/daily-stats.ts'),
  leaderboards: parseJob(leaderboards, 'jobs/leaderboards.ts'),
  'project-stats': parseJob(projectStats, 'jobs/project-stats.ts'),
  'projects-list': parseJob(projectsList, 'jobs/projects-list.ts'),
  topics: parseJob(topics, 'jobs/topics.ts'),
};
const plan = (name: keyof typeof parsed, over?: Partial<JobSettings>): JobPlan => planJob(parsed[name], over ? settings(over) : undefined);
const hourly = parseJob(
  {
    name: 'hourly',
    description: 'a cron job',
    schedule: { cron: '0 * * * *' },
    ttl: '2h',
    emptyTtl: '1h',
    fanOut: 'group',
    keys: { main: 'hourly' },
    request: () => ({ path: '/x' }),
    response: z.object({}),
    map: () => [],
  },
  'jobs/hourly.ts',
);

describe('desiredSchedulers', () => {
  it('asks for one scheduler per job, and a second one for daily-stats’ run after midnight', () => {
    const plans = (Object.keys(parsed) as (keyof typeof parsed)[]).map((name) => plan(name));
    expect(desiredSchedulers(plans, TZ)).toStrictEqual([
      { id: 'daily-stats', job: 'daily-stats', every: 900_000 },
      { id: 'daily-stats@alsoAt', job: 'daily-stats', pattern: '5 0 0 * * *', tz: TZ },
      { id: 'leaderboards', job: 'leaderboards', every: 1_800_000 },
      // Staggered: the second job of the 30-minute cadence fires 15 minutes in.
      { id: 'project-stats', job: 'project-stats', every: 1_800_000, offset: 900_000 },
      { id: 'projects-list', job: 'projects-list', every: 3_600_000 },
      { id: 'topics', job: 'topics', every: 300_000 },
    ]);
  });

  it('gives a disabled job no scheduler at all, not even its alsoAt', () => {
    const ids = desiredSchedulers([plan('daily-stats', { enabled: false }), plan('topics', { enabled: false }), plan('leaderboards')], TZ).map((s) => s.id);
    expect(ids).toEqual(['leaderboards']);
  });

  it('schedules a cron plan by pattern in the group’s time zone', () => {
    expect(desiredSchedulers([planJob(hourly, undefined)], 'America/New_York')).toStrictEqual([
      { id: 'hourly', job: 'hourly', pattern: '0 * * * *', tz: 'America/New_York' },
    ]);
    expect(desiredSchedulers([plan('topics', { cron: '*/10 * * * *' })], TZ)).toStrictEqual([
      { id: 'topics', job: 'topics', pattern: '*/10 * * * *', tz: TZ },
    ]);
  });

  it('follows the configured every and a dropped or replaced alsoAt', () => {
    expect(desiredSchedulers([plan('daily-stats', { everyMs: 60_000, alsoAt: false })], TZ)).toStrictEqual([
      { id: 'daily-stats', job: 'daily-stats', every: 60_000 },
    ]);
    expect(desiredSchedulers([plan('daily-stats', { alsoAt: '0 30 0 * * *' })], 'UTC')[1]).toStrictEqual({
      id: 'daily-stats@alsoAt',
      job: 'daily-stats',
      pattern: '0 30 0 * * *',
      tz: 'UTC',
    });
  });
});

describe('describeSchedule', () => {
  it('reads an every plan with the shortest exact unit', () => {
    expect(describeSchedule(plan('topics'), TZ)).toBe('every 5m');
    expect(describeSchedule(plan('topics', { everyMs: 90_000 }), TZ)).toBe('every 90s');
    expect(describeSchedule(plan('projects-list'), TZ)).toBe('every 1h');
  });

  it('reads a cron plan with its time zone', () => {
    expect(describeSchedule(planJob(hourly, undefined), TZ)).toBe('cron 0 * * * * (Asia/Shanghai)');
  });

  it('adds the alsoAt run', () => {
    expect(describeSchedule(plan('daily-stats'), TZ)).toBe('every 15m + cron 5 0 0 * * * (Asia/Shanghai)');
    expect(describeSchedule(plan('daily-stats', { alsoAt: false }), TZ)).toBe('every 15m');
  });

  it('says disabled for a disabled plan', () => {
    expect(describeSchedule(plan('daily-stats', { enabled: false }), TZ)).toBe('disabled');
  });
});

describe('nextRunAt', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    // 23:59 in Shanghai.
    vi.setSystemTime(new Date('2025-12-10T15:59:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('takes the earliest next run of the job’s own schedulers', () => {
    const schedulers = [
      { key: 'daily-stats', next: Date.parse('2025-12-10T16:10:00.000Z') },
      { key: 'daily-stats@alsoAt', next: Date.parse('2025-12-10T16:00:05.000Z') },
      { key: 'topics', next: Date.parse('2025-12-10T15:59:30.000Z') },
    ];
    expect(nextRunAt(plan('daily-stats'), TZ, schedulers)).toEqual(new Date('2025-12-10T16:00:05.000Z'));
    expect(nextRunAt(plan('topics'), TZ, schedulers)).toEqual(new Date('2025-12-10T15:59:30.000Z'));
  });

  it('ignores schedulers without a next run and those of other jobs', () => {
    expect(nextRunAt(plan('topics'), TZ, [{ key: 'topics' }, { key: 'topics-extra', next: 1 }])).toBeUndefined();
  });

  it('computes a cron plan’s next run in the group’s zone when the queue has no scheduler yet', () => {
    const midnightDaily = planJob(parseJob({ ...baseCronDef(), schedule: { cron: '0 0 * * *' } }, 'jobs/nightly.ts'), undefined);
    expect(nextRunAt(midnightDaily, TZ, [])).toEqual(new Date('2025-12-10T16:00:00.000Z'));
    expect(nextRunAt(midnightDaily, 'UTC', [])).toEqual(new Date('2025-12-11T00:00:00.000Z'));
    expect(nextRunAt(planJob(hourly, undefined), TZ, [])).toEqual(new Date('2025-12-10T16:00:00.000Z'));
  });

  it('knows no next run of an every plan that has no scheduler', () => {
    expect(nextRunAt(plan('topics'), TZ, [])).toBeUndefined();
  });

  it('has no next run for a disabled plan, whatever the queue holds', () => {
    expect(nextRunAt(plan('topics', { enabled: false }), TZ, [{ key: 'topics', next: Date.now() + 1000 }])).toBeUndefined();
  });
});

function baseCronDef(): Record<string, unknown> {
  return {
    name: 'nightly',
    description: 'a nightly job',
    ttl: '1d',
    emptyTtl: '1h',
    fanOut: 'group',
    keys: { main: 'nightly' },
    request: () => ({ path: '/x' }),
    response: z.object({}),
    map: () => [],
  };
}

describe('cron', () => {
  it('accepts five- and six-field patterns and explains a bad one', () => {
    expect(cronError('0 * * * *')).toBeUndefined();
    expect(cronError('5 0 0 * * *')).toBeUndefined();
    expect(cronError('61 * * * *')).toEqual(expect.any(String));
    expect(cronError('every day')).toEqual(expect.any(String));
  });

  it('computes the next run after a given instant in the zone', () => {
    expect(nextCronRun('5 0 0 * * *', TZ, new Date('2025-12-10T12:00:00.000Z'))).toEqual(new Date('2025-12-10T16:00:05.000Z'));
    expect(nextCronRun('0 9 * * *', 'America/New_York', new Date('2025-07-01T00:00:00.000Z'))).toEqual(new Date('2025-07-01T13:00:00.000Z'));
    expect(nextCronRun('0 9 * * *', 'America/New_York', new Date('2025-12-01T00:00:00.000Z'))).toEqual(new Date('2025-12-01T14:00:00.000Z'));
  });
});
