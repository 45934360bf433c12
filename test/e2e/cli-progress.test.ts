/**
 * `--once` progress: the bars a terminal gets, and the plain log lines
 * everything else gets. Node has no pseudo-terminal, so the bars are drawn
 * on an object that says it is one (isTTY, columns) and records what is
 * written; the runs behind them are real (harness: real Redis, simulator).
 * The non-terminal path runs the built CLI with pipes, as CI and systemd do.
 */
import { describe, expect, it } from 'vitest';
import { onceCommand } from '../../src/cli/commands/once.js';
import { createProgress, formatLogLine, formatSummary, wantsProgressBar, type ProgressStream } from '../../src/cli/progress.js';
import { PartialRefreshError } from '../../src/shared/errors.js';
import { runJob, type RunProgress, type RunResult } from '../../src/worker/run-job.js';
import { spawnCli } from '../support/daemon.js';
import { harnessPerTest } from '../support/harness.js';

const newHarness = harnessPerTest({ projects: 4, env: { UPSTREAM_RETRIES: '0' } });

/** A terminal that records: what was written, and the text without escape sequences. */
function fakeTerminal(columns = 120) {
  let written = '';
  const stream: ProgressStream = {
    isTTY: true,
    columns,
    write(chunk: string) {
      written += chunk;
      return true;
    },
  };
  // eslint-disable-next-line no-control-regex
  const text = () => written.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');
  return { stream, raw: () => written, text };
}

function result(job: string, fields: Partial<RunResult> = {}): RunResult {
  return {
    job,
    outcome: 'ok',
    ok: true,
    durationMs: 1200,
    keysWritten: 10,
    bytesWritten: 1024,
    itemsOk: 10,
    itemsFailed: 0,
    itemsGone: 0,
    staleExtended: 0,
    ...fields,
  };
}

const progress = (job: string, total: number, done: number, failed = 0, skipped = 0): RunProgress => ({ job, total, done, failed, skipped });
const frame = () => new Promise((resolve) => setTimeout(resolve, 250)); // cli-progress redraws every 100 ms

describe('the --once progress bars', () => {
  it('draw units done / total and failures while a job runs, then its final state and a summary', async () => {
    const t = fakeTerminal();
    const p = createProgress(t.stream, ['projects-list', 'topics']);
    p.update(progress('topics', 10, 0));
    p.update(progress('topics', 10, 7, 2));
    await frame();
    expect(t.text()).toMatch(/ {2}topics\s+█{17}░{7} {2}7\/10 units {2}2 failed {2}\d+s/);

    p.log('warn topics: unit refresh failed; its keys keep their last value');
    p.update(progress('topics', 10, 10, 3));
    p.jobDone(result('topics', { ok: false, outcome: 'failed', itemsOk: 7, itemsFailed: 3, keysWritten: 7, bytesWritten: 2048, error: new PartialRefreshError(3, 10, new Error('boom')) }));
    p.finish({ results: [result('topics', { ok: false, outcome: 'failed', itemsFailed: 3, keysWritten: 7, bytesWritten: 2048, error: new PartialRefreshError(3, 10, new Error('boom')) })], skipped: [], seconds: 1.2, requests: 12 });

    const text = t.text();
    expect(text).toContain('warn topics: unit refresh failed; its keys keep their last value\n');
    expect(text).toMatch(/✗ topics\s+█{24} {2}10\/10 units {2}3 failed {2}1s/);
    expect(text.trimEnd().split('\n').slice(-2)).toEqual([
      '✗ once finished with failures: 1 job, 7 keys (2.0 KiB) in 1.2s, 12 requests; 1 failed',
      '  topics: failed (ERR_REFRESH_PARTIAL: 3 of 10 items failed; first: boom)',
    ]);
    // The cursor, hidden while drawing, is shown again.
    expect(t.raw().endsWith('\n')).toBe(true);
    expect(t.raw()).toContain('\x1b[?25h');
  });

  it('says when a job failed before its units were known, and counts skipped units', () => {
    const t = fakeTerminal();
    const p = createProgress(t.stream, ['projects-list', 'topics']);
    p.update(progress('projects-list', 3, 3));
    p.jobDone(result('projects-list'));
    p.jobDone(result('topics', { ok: false, outcome: 'failed', itemsOk: 0, keysWritten: 0, bytesWritten: 0, error: new Error('no list') }));
    p.finish({ results: [result('projects-list'), result('topics', { ok: false, outcome: 'failed', keysWritten: 0, bytesWritten: 0 })], skipped: ['leaderboards'], seconds: 0.4, requests: 3 });
    const text = t.text();
    expect(text).toContain('✗ topics: failed before its units were listed\n');
    expect(text).toMatch(/✓ projects-list\s+█{24} {2}3\/3 units {2}0 failed/);
    expect(text).toContain('✗ once finished with failures: 2 jobs, 10 keys (1.0 KiB) in 0.4s, 3 requests; 1 failed, 1 not started (leaderboards)');

    expect(formatSummary({ results: [result('a'), result('b')], skipped: [], seconds: 0.5, requests: 4 })).toBe('✓ once finished: 2 jobs, 20 keys (2.0 KiB) in 0.5s, 4 requests');
    const other = fakeTerminal();
    const skippedUnits = createProgress(other.stream, ['topics']);
    skippedUnits.update(progress('topics', 4, 4, 1, 2));
    skippedUnits.finish({ results: [], skipped: [], seconds: 0, requests: 0 });
    expect(other.text()).toMatch(/ {2}topics\s+█{24} {2}4\/4 units {2}1 failed {2}2 skipped/);
  });

  it('are drawn only where stderr is a terminal that can move its cursor', () => {
    expect(wantsProgressBar({ isTTY: true }, { TERM: 'xterm-256color' })).toBe(true);
    expect(wantsProgressBar({ isTTY: true }, {})).toBe(true);
    expect(wantsProgressBar({ isTTY: false }, { TERM: 'xterm' })).toBe(false);
    expect(wantsProgressBar({}, { TERM: 'xterm' })).toBe(false);
    expect(wantsProgressBar({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });

  it('print log lines above the bars as one readable line each', () => {
    const line = JSON.stringify({
      level: 40,
      time: '2025-01-15T10:30:00.000Z',
      pid: 1,
      job: 'topics',
      unit: 'topics project 12',
      err: { type: 'UpstreamError', code: 'ERR_UPSTREAM_HTTP', message: 'GET /v2/groups/1/checkins/12/topics: HTTP 500' },
      msg: 'unit refresh failed; its keys keep their last value',
    });
    expect(formatLogLine(`${line}\n`)).toBe('warn topics: unit refresh failed; its keys keep their last value [topics project 12] (ERR_UPSTREAM_HTTP: GET /v2/groups/1/checkins/12/topics: HTTP 500)');
    expect(formatLogLine('{"level":50,"msg":"refresh failed"}')).toBe('error refresh failed');
    expect(formatLogLine('not json\n')).toBe('not json');
  });
});

describe('runJob progress listener', () => {
  it('hears the total, every unit, and the final counts, failures included', async () => {
    const h = await newHarness();
    expect((await h.run('projects-list')).ok).toBe(true);
    const ids = h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);
    h.sim.fault({ kind: 'status', status: 500, route: 'topics', projectId: ids[0]! });
    const heard: RunProgress[] = [];
    const run = await runJob(h.plan('topics'), h.runtime.run, 'once', (p) => heard.push(p));
    expect(run.outcome).toBe('failed');
    expect(heard[0]).toEqual({ job: 'topics', total: ids.length, done: 0, failed: 0, skipped: 0 });
    expect(heard.at(-1)).toEqual({ job: 'topics', total: ids.length, done: ids.length, failed: 1, skipped: 0 });
    // One report per unit between the first and the last, done counting up by one.
    expect(heard.slice(1, -1).map((p) => p.done)).toEqual(ids.map((_, i) => i + 1));
  });

  it('cannot fail a run by throwing', async () => {
    const h = await newHarness();
    const run = await runJob(h.plan('projects-list'), h.runtime.run, 'once', () => {
      throw new Error('display broke');
    });
    expect(run.ok).toBe(true);
    expect(run.keysWritten).toBeGreaterThan(0);
  });
});

describe('cache-warmer --once all', () => {
  it('on a terminal: a bar per job, each full, and the summary (real runs, recorded terminal)', async () => {
    const h = await newHarness();
    const t = fakeTerminal();
    const names = h.jobs.map((j) => j.name);
    const ids = h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);
    h.sim.fault({ kind: 'status', status: 500, route: 'topics', projectId: ids[1]! });
    const code = await onceCommand(h.jobs, names, true, h.config, h.logger, createProgress(t.stream, names));
    expect(code).toBe(1);
    const text = t.text();
    const n = ids.length;
    expect(text).toMatch(/✓ projects-list\s+█{24} {2}3\/3 units {2}0 failed/);
    expect(text).toMatch(new RegExp(`✓ leaderboards\\s+█{24} {2}${2 * n}/${2 * n} units {2}0 failed`));
    expect(text).toMatch(new RegExp(`✓ project-stats\\s+█{24} {2}${n}/${n} units {2}0 failed`));
    expect(text).toMatch(new RegExp(`✓ daily-stats\\s+█{24} {2}${n}/${n} units {2}0 failed`));
    expect(text).toMatch(new RegExp(`✗ topics\\s+█{24} {2}${n}/${n} units {2}1 failed`));
    expect(text).toMatch(/✗ once finished with failures: 5 jobs, \d+ keys \([\d.]+ KiB\) in [\d.]+s, \d+ requests; 1 failed\n {2}topics: failed \(ERR_REFRESH_PARTIAL: 1 of \d+ items failed; first: GET \/v2\/groups\/\d+\/checkins\/\d+\/topics: HTTP 500\)\n$/);
    expect(text).not.toContain(h.token);
    // The log lines are the same as without the bars.
    expect(h.logs.some((l) => l.includes('"msg":"once finished with failures"'))).toBe(true);
  });

  it('not on a terminal: the same JSON log lines as ever, and no bar', async () => {
    const h = await newHarness();
    const run = spawnCli(['--once', 'all'], {
      REDIS_URL: h.config.redis.url,
      CACHE_PREFIX: h.prefix,
      UPSTREAM_BASE_URL: h.sim.url,
      UPSTREAM_TOKEN: h.token,
      UPSTREAM_GROUP_ID: h.groupId,
      // As if run from a terminal whose output is piped: TERM says nothing about stderr.
      TERM: 'xterm-256color',
    });
    const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 25_000))]);
    if (code === 'timeout') await run.stop('SIGKILL');
    expect(code, run.output()).toBe(0);
    const output = run.output();
    expect(output).not.toMatch(/[█░]/);
    expect(output).not.toContain('\x1b[');
    expect(output).not.toContain('once finished:'); // the terminal summary
    const lines = output.trimEnd().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(run.logs.filter((l) => l.msg === 'refresh done').map((l) => l.job).sort()).toEqual(['daily-stats', 'leaderboards', 'project-stats', 'projects-list', 'topics']);
    expect(run.logs.at(-1)).toMatchObject({ msg: 'once finished', jobs: 5, failed: [], skipped: 0 });
  });
});
