import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import dailyStats from '../../jobs/daily-stats.js';
import topics from '../../jobs/topics.js';
import { jobSettings } from '../support/plans.js';
import { loadJobs } from '../../src/definition/load.js';
import { parseJob, planJob } from '../../src/definition/parse.js';
import { DefinitionError } from '../../src/shared/errors.js';

const FILE = 'jobs/sample.ts';

/** A valid definition; each test breaks one thing. */
function sample(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'sample',
    description: 'a sample job',
    schedule: { every: '5m' },
    ttl: '10m',
    emptyTtl: '5m',
    fanOut: 'projects',
    keys: { main: 'project:{id}:sample' },
    request: () => ({ path: '/sample' }),
    response: z.object({ n: z.number() }),
    map: () => [],
    ...overrides,
  };
}

function without(field: string): Record<string, unknown> {
  const def = sample();
  delete def[field];
  return def;
}

/** Parses and returns the DefinitionError's message, failing if nothing or something else was thrown. */
function rejection(raw: unknown): string {
  try {
    parseJob(raw, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    expect((error as DefinitionError).code).toBe('ERR_DEFINITION');
    expect((error as Error).message.startsWith(`${FILE}: `)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected a DefinitionError, the definition was accepted');
}

const settings = jobSettings;

describe('parseJob', () => {
  it('turns a valid definition into a frozen parsed form with durations in milliseconds', () => {
    const job = parseJob(sample(), FILE);
    expect(job.file).toBe(FILE);
    expect(job.name).toBe('sample');
    expect(job.fanOut).toBe('projects');
    expect(job.variants).toBeUndefined();
    expect(job.defaults).toStrictEqual({ everyMs: 300_000, ttlMs: 600_000, emptyTtlMs: 300_000 });
    expect(job.keys.main!.build('zsxq', { id: '1' })).toBe('zsxq:project:1:sample');
    expect(Object.isFrozen(job)).toBe(true);
    expect(Object.isFrozen(job.defaults)).toBe(true);
    expect(Object.isFrozen(job.keys)).toBe(true);
  });

  it('copies the variants so that a later change to the file’s array does not reach the engine', () => {
    const variants = ['a', 'b'];
    const job = parseJob(sample({ variants }), FILE);
    variants.push('c');
    expect(job.variants).toEqual(['a', 'b']);
    expect(Object.isFrozen(job.variants)).toBe(true);
  });

  it('accepts a cron schedule and a millisecond number as a duration', () => {
    const job = parseJob(sample({ schedule: { cron: '0 * * * *', alsoAt: '5 0 0 * * *' }, ttl: 60_000 }), FILE);
    expect(job.defaults).toStrictEqual({ cron: '0 * * * *', alsoAt: '5 0 0 * * *', ttlMs: 60_000, emptyTtlMs: 300_000 });
  });

  it('parses every shipped job file', () => {
    expect(parseJob(topics, 'jobs/topics.ts').defaults).toStrictEqual({ everyMs: 300_000, ttlMs: 600_000, emptyTtlMs: 300_000 });
    expect(parseJob(dailyStats, 'jobs/daily-stats.ts').defaults.alsoAt).toBe('5 0 0 * * *');
  });

  it('rejects something that is not an object', () => {
    expect(rejection(null)).toBe(`${FILE}: default export must be a job definition object`);
    expect(rejection('topics')).toContain('default export');
  });

  it('rejects an unknown field, naming it', () => {
    expect(rejection(sample({ ttlSeconds: 600 }))).toBe(`${FILE}: ttlSeconds is not a field of a job definition`);
  });

  it('rejects an unknown field inside schedule, so that a typo cannot drop a run', () => {
    // `alsoat` instead of `alsoAt` would silently lose daily-stats' midnight run.
    expect(rejection(sample({ schedule: { every: '15m', alsoat: '5 0 0 * * *' } }))).toContain('schedule.alsoat');
  });

  it('rejects a bad name', () => {
    for (const name of ['Sample', 'sample_job', '1sample', '', 'a'.repeat(42), 42]) {
      expect(rejection(sample({ name })), String(name)).toContain(`${FILE}: name ${JSON.stringify(name)} must match`);
    }
    expect(rejection(without('name'))).toContain('name');
  });

  it('rejects a description that is not a string', () => {
    expect(rejection(without('description'))).toBe(`${FILE}: description must be a string`);
  });

  it('rejects a bad or non-positive ttl and emptyTtl, with the value and a hint', () => {
    expect(rejection(sample({ ttl: 'banana' }))).toBe(`${FILE}: ttl "banana" is not a positive duration (e.g. 500ms, 30s, 5m, 2h)`);
    expect(rejection(sample({ ttl: '1.5h' }))).toContain('ttl "1.5h"');
    expect(rejection(sample({ ttl: 0 }))).toContain('ttl 0 is not a positive duration');
    expect(rejection(sample({ emptyTtl: '5 minutes' }))).toContain('emptyTtl "5 minutes"');
    expect(rejection(without('emptyTtl'))).toContain('emptyTtl');
  });

  it('rejects a bad or non-positive every', () => {
    expect(rejection(sample({ schedule: { every: 'banana' } }))).toBe(`${FILE}: schedule.every "banana" is not a positive duration (e.g. 500ms, 30s, 5m, 2h)`);
    expect(rejection(sample({ schedule: { every: '0s' } }))).toContain('schedule.every "0s"');
  });

  it('rejects both every and cron, and neither', () => {
    expect(rejection(sample({ schedule: { every: '5m', cron: '0 * * * *' } }))).toBe(`${FILE}: schedule needs exactly one of every or cron`);
    expect(rejection(sample({ schedule: { alsoAt: '0 0 * * *' } }))).toBe(`${FILE}: schedule needs exactly one of every or cron`);
    expect(rejection(without('schedule'))).toBe(`${FILE}: schedule is missing`);
  });

  it('rejects a bad cron and a bad alsoAt, naming the field and the pattern', () => {
    expect(rejection(sample({ schedule: { cron: 'every day' } }))).toContain(`${FILE}: schedule.cron "every day" is not a valid cron expression`);
    expect(rejection(sample({ schedule: { cron: '61 * * * *' } }))).toContain('schedule.cron "61 * * * *"');
    expect(rejection(sample({ schedule: { every: '5m', alsoAt: '0 25 * * *' } }))).toContain('schedule.alsoAt "0 25 * * *" is not a valid cron expression');
    expect(rejection(sample({ schedule: { every: '5m', alsoAt: 5 } }))).toContain('schedule.alsoAt 5 is not a valid cron expression (must be a string)');
  });

  it('rejects a bad fanOut and bad variants', () => {
    expect(rejection(sample({ fanOut: 'everyone' }))).toBe(`${FILE}: fanOut must be "group" or "projects"`);
    expect(rejection(sample({ variants: [] }))).toBe(`${FILE}: variants must be a non-empty list of strings`);
    expect(rejection(sample({ variants: ['a', 1] }))).toContain('variants');
    expect(rejection(sample({ variants: 'a' }))).toContain('variants');
  });

  it('rejects a bad key template, naming the key', () => {
    expect(rejection(sample({ keys: { main: 'project:{id}:*' } }))).toContain(`${FILE}: keys.main key template "project:{id}:*"`);
    expect(rejection(sample({ keys: { ok: 'a:{id}', other: 'project {id}' } }))).toContain('keys.other');
    expect(rejection(sample({ keys: { main: 'x:{id}:{id}' } }))).toContain('keys.main');
    expect(rejection(sample({ keys: {} }))).toBe(`${FILE}: keys must name at least one key template`);
  });

  it('rejects a missing map or request', () => {
    expect(rejection(without('map'))).toBe(`${FILE}: map must be a function`);
    expect(rejection(without('request'))).toBe(`${FILE}: request must be a function`);
    expect(rejection(sample({ map: { topics: 'x' } }))).toBe(`${FILE}: map must be a function`);
  });

  it('rejects a response that is not a zod schema', () => {
    expect(rejection(sample({ response: { topics: [] } }))).toBe(`${FILE}: response must be a zod schema`);
  });

  it('rejects paging without next or a page bound', () => {
    expect(rejection(sample({ paging: { next: () => undefined, maxPages: 0 } }))).toBe(`${FILE}: paging needs next() and maxPages >= 1`);
    expect(rejection(sample({ paging: { maxPages: 3 } }))).toContain('paging');
  });

  it('rejects providesProjects naming an unknown key or on a per-project job', () => {
    const ids = () => [];
    expect(rejection(sample({ fanOut: 'group', providesProjects: { key: 'nope', ids } }))).toBe(`${FILE}: providesProjects.key "nope" is not one of keys`);
    expect(rejection(sample({ fanOut: 'projects', providesProjects: { key: 'main', ids } }))).toBe(`${FILE}: providesProjects needs fanOut "group"`);
  });
});

describe('planJob', () => {
  const everyJob = parseJob(sample(), FILE);
  const cronJob = parseJob(sample({ schedule: { cron: '0 * * * *' } }), FILE);
  const daily = parseJob(dailyStats, 'jobs/daily-stats.ts');

  it('keeps the job file’s cadence and TTLs without settings', () => {
    expect(planJob(everyJob, undefined)).toStrictEqual({
      job: everyJob,
      enabled: true,
      everyMs: 300_000,
      cron: undefined,
      alsoAt: undefined,
      ttlMs: 600_000,
      emptyTtlMs: 300_000,
      maxStaleMs: 24 * 3_600_000,
    });
    const plan = planJob(daily, settings());
    expect([plan.everyMs, plan.cron, plan.alsoAt]).toEqual([900_000, undefined, '5 0 0 * * *']);
  });

  it('lets a configured every replace the file’s cron', () => {
    const plan = planJob(cronJob, settings({ everyMs: 2000 }));
    expect(plan.everyMs).toBe(2000);
    expect(plan.cron).toBeUndefined();
  });

  it('lets a configured cron replace the file’s every', () => {
    const plan = planJob(everyJob, settings({ cron: '*/10 * * * *' }));
    expect(plan.cron).toBe('*/10 * * * *');
    expect(plan.everyMs).toBeUndefined();
  });

  it('lets a configured every replace the file’s every', () => {
    expect(planJob(everyJob, settings({ everyMs: 2000 })).everyMs).toBe(2000);
  });

  it('drops the file’s alsoAt when set to false, replaces it with a cron, keeps it when unset', () => {
    expect(planJob(daily, settings({ alsoAt: false })).alsoAt).toBeUndefined();
    expect(planJob(daily, settings({ alsoAt: '0 30 0 * * *' })).alsoAt).toBe('0 30 0 * * *');
    expect(planJob(daily, settings({ alsoAt: undefined })).alsoAt).toBe('5 0 0 * * *');
    // The main cadence is untouched by alsoAt.
    expect(planJob(daily, settings({ alsoAt: false })).everyMs).toBe(900_000);
  });

  it('overrides ttl and emptyTtl independently', () => {
    const plan = planJob(everyJob, settings({ ttlMs: 10_000 }));
    expect([plan.ttlMs, plan.emptyTtlMs]).toEqual([10_000, 300_000]);
    const other = planJob(everyJob, settings({ emptyTtlMs: 4000 }));
    expect([other.ttlMs, other.emptyTtlMs]).toEqual([600_000, 4000]);
  });

  it('carries enabled false', () => {
    expect(planJob(everyJob, settings({ enabled: false })).enabled).toBe(false);
  });

  it('returns a frozen plan and leaves the parsed job as it was', () => {
    const plan = planJob(daily, settings({ everyMs: 1000, alsoAt: false, ttlMs: 1 }));
    expect(Object.isFrozen(plan)).toBe(true);
    expect(daily.defaults).toStrictEqual({ everyMs: 900_000, alsoAt: '5 0 0 * * *', ttlMs: 1_800_000, emptyTtlMs: 900_000 });
  });
});

describe('loadJobs from a directory', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A job file's source: plain data, with a duck-typed schema so that the file needs no import. */
  const jobSource = (name: string, extra = '') => `export default {
  name: ${JSON.stringify(name)}, description: 'd', schedule: { every: '5m' }, ttl: '10m', emptyTtl: '5m',
  fanOut: 'group', keys: { main: 'k:{scope}' },
  request: () => ({ path: '/x' }), response: { safeParse: (x: unknown) => ({ success: true, data: x }) }, map: () => [],
  ${extra}
};
`;

  function jobsDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'cache-warmer-jobs-'));
    dirs.push(dir);
    for (const [file, source] of Object.entries(files)) writeFileSync(join(dir, file), source);
    return dir;
  }

  it('loads every job file in name order and skips helpers and declarations', async () => {
    const dir = jobsDir({
      'b-job.ts': jobSource('b-job'),
      'a-job.ts': jobSource('a-job'),
      '_helper.ts': 'export const x = 1;\n',
      'types.d.ts': 'export {};\n',
      'notes.md': '# not a job\n',
    });
    const jobs = await loadJobs(dir);
    expect(jobs.map((j) => [j.name, j.file])).toEqual([
      ['a-job', 'jobs/a-job.ts'],
      ['b-job', 'jobs/b-job.ts'],
    ]);
  });

  it('names the file and the field of a bad definition', async () => {
    const dir = jobsDir({ 'good.ts': jobSource('good'), 'broken.ts': jobSource('broken', "ttlSeconds: 5,") });
    await expect(loadJobs(dir)).rejects.toThrow(new DefinitionError('jobs/broken.ts: ttlSeconds is not a field of a job definition'));
  });

  it('rejects two files declaring the same job name', async () => {
    const dir = jobsDir({ 'one.ts': jobSource('same'), 'two.ts': jobSource('same') });
    await expect(loadJobs(dir)).rejects.toThrow(new DefinitionError('jobs/two.ts: name "same" is used by another job file'));
  });

  it('rejects a second job providing the project list', async () => {
    const provides =
      "providesProjects: { key: 'main', ids: () => [], detail: () => ({ path: '/' }), isGone: () => false, gone: (id, at) => ({ key: 'main', params: { id }, value: { cached_at: at }, empty: false }) },";
    const dir = jobsDir({ 'one.ts': jobSource('one', provides), 'two.ts': jobSource('two', provides) });
    await expect(loadJobs(dir)).rejects.toThrow(DefinitionError);
    await expect(loadJobs(dir)).rejects.toThrow(/more than one job declares providesProjects/);
  });

  it('rejects a file without a default export', async () => {
    const dir = jobsDir({ 'empty.ts': 'export const job = 1;\n' });
    await expect(loadJobs(dir)).rejects.toThrow('jobs/empty.ts: default export must be a job definition object');
  });
});
