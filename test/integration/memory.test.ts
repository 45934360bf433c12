/**
 * What keeps the daemon's memory flat: requests that leave nothing behind on
 * long-lived objects, and V8 heap settings applied at run time (issue 4).
 * The heap settings are process-wide, so they are tried in child processes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEventListeners } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { WarmerError } from '../../src/shared/errors.js';
import { harnessPerTest, waitFor } from '../support/harness.js';

const create = harnessPerTest({ projects: 12 });
const run = promisify(execFile);

/** The set in which Node 20 keeps the signals AbortSignal.any() derived from a signal; absent on other versions. */
function dependants(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = symbol ? (signal as unknown as Record<symbol, { size?: number } | undefined>)[symbol] : undefined;
  return set?.size ?? 0;
}

describe('requests of a long-lived daemon', () => {
  it('leave no listener and no derived signal on the shutdown signal, however many were made', async () => {
    const h = await create();
    const shutdown = h.runtime.abort.signal;
    const before = { listeners: getEventListeners(shutdown, 'abort').length, dependants: dependants(shutdown) };
    for (const job of ['projects-list', 'topics', 'leaderboards']) {
      const result = await h.run(job);
      expect(result.error, job).toBeUndefined();
    }
    expect(h.sim.count()).toBeGreaterThan(30);
    expect({ listeners: getEventListeners(shutdown, 'abort').length, dependants: dependants(shutdown) }).toEqual(before);
  });

  it('share one shutdown listener however many are in flight (no MaxListenersExceededWarning past 10)', async () => {
    const h = await create({ projects: 40, simulator: { latencyMs: 300 }, env: { UPSTREAM_CONCURRENCY: '30' } });
    const list = await h.run('projects-list');
    expect(list.error).toBeUndefined();
    const shutdown = h.runtime.abort.signal;
    const before = getEventListeners(shutdown, 'abort').length;
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      h.sim.resetRequests();
      const pending = h.run('topics');
      await waitFor('12 topics requests in flight', () => h.sim.count('topics') >= 12 || undefined);
      expect(getEventListeners(shutdown, 'abort').length).toBe(before);
      expect((await pending).error).toBeUndefined();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('stay within UPSTREAM_CONCURRENCY for the whole process when two refreshes run at once', async () => {
    const h = await create({ projects: 24, simulator: { latencyMs: 40 }, env: { UPSTREAM_CONCURRENCY: '3' } });
    expect((await h.run('projects-list')).error).toBeUndefined();
    h.sim.resetRequests();
    // Each run alone may have 3 in flight: together, without one cap, 6.
    const results = await Promise.all([h.run('topics'), h.run('project-stats')]);
    for (const result of results) expect(result.error).toBeUndefined();
    expect(h.sim.count()).toBeGreaterThan(20);
    expect(h.sim.maxInFlight).toBe(3);
  });

  it('waiting for a slot at shutdown, are not sent and end with ERR_ABORTED at once', async () => {
    const h = await create({ env: { UPSTREAM_CONCURRENCY: '1' } });
    expect((await h.run('projects-list')).error).toBeUndefined();
    h.sim.options.latencyMs = 5_000;
    h.sim.resetRequests();
    // Two runs, one slot: one request in flight, the other run's first request waits for the slot.
    const pending = Promise.all([h.run('topics'), h.run('project-stats')]);
    await waitFor('one request in flight', () => h.sim.count() >= 1 || undefined);
    // Were there no cap, the other run's request would arrive meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(h.sim.count()).toBe(1);
    h.runtime.abort.abort();
    const started = Date.now();
    const results = await pending;
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const result of results) expect((result.error as WarmerError | undefined)?.code).toBe('ERR_ABORTED');
    expect(h.sim.count()).toBe(1);
  });

  it('are abandoned with ERR_ABORTED at shutdown while in flight, long before their deadline', async () => {
    const h = await create({ simulator: { latencyMs: 5_000 } });
    const pending = h.run('projects-list');
    // Until the simulator has the requests: the abort must meet them in flight, not before they are sent.
    await waitFor('the three list requests in flight', () => h.sim.count('projects') >= 3 || undefined);
    h.runtime.abort.abort();
    const started = Date.now();
    const result = await pending;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((result.error as WarmerError | undefined)?.code).toBe('ERR_ABORTED');
    expect(result.error?.message).toMatch(/abandoned, shutting down/);
  });
});

const HEAP = pathToFileURL(fileURLToPath(new URL('../../dist/src/shared/heap.js', import.meta.url))).href;

/**
 * A child that applies `settings` and then allocates like the daemon warming:
 * many short-lived objects, a rolling window of survivors (which makes V8 grow
 * its young generation). Prints what was applied and the largest semi-space seen.
 */
const CHURN = `
const { holdHeap, semiSpaceBytes } = await import(${JSON.stringify(HEAP)});
const { applied, stop } = holdHeap(JSON.parse(process.argv[1]));
const keep = [];
let max = 0;
for (let round = 0; round < 300; round += 1) {
  const batch = [];
  for (let i = 0; i < 3000; i += 1) batch.push({ round, i, text: 'value ' + i + ' of ' + round });
  keep.push(batch);
  if (keep.length > 30) keep.shift();
  await new Promise((resolve) => setImmediate(resolve));
  max = Math.max(max, semiSpaceBytes());
}
stop();
console.log(JSON.stringify({ applied, maxSemiMb: max / 1048576 }));
`;

async function churn(settings: { growthPercent: number; semiSpaceMb: number }, nodeFlags: string[] = []): Promise<{ applied: Record<string, unknown>; maxSemiMb: number }> {
  const { stdout } = await run(process.execPath, [...nodeFlags, '--input-type=module', '-e', CHURN, JSON.stringify(settings)], { timeout: 80_000, env: { PATH: process.env.PATH ?? '' } });
  return JSON.parse(stdout.trim()) as { applied: Record<string, unknown>; maxSemiMb: number };
}

describe('V8 heap settings', () => {
  // Child processes: generous bounds on a loaded 2-core machine.
  it('hold the young generation at its configured semi-space size, where V8 alone grows it to 16 MB', { timeout: 90_000 }, async () => {
    const [held, v8Own] = await Promise.all([churn({ growthPercent: 20, semiSpaceMb: 2 }), churn({ growthPercent: 0, semiSpaceMb: 0 })]);
    expect(held.applied).toEqual({ growthPercent: 20, semiSpaceMb: 2 });
    expect(held.maxSemiMb).toBeGreaterThan(1);
    expect(held.maxSemiMb).toBeLessThanOrEqual(2);
    expect(v8Own.applied).toEqual({ growthPercent: 'v8', semiSpaceMb: 'v8' });
    expect(v8Own.maxSemiMb).toBeGreaterThanOrEqual(8);
  });

  it('leave a size given to node on its command line alone, in either spelling', { timeout: 90_000 }, async () => {
    const [dashes, underscores] = await Promise.all([
      churn({ growthPercent: 20, semiSpaceMb: 2 }, ['--max-semi-space-size=8', '--heap-growing-percent=50']),
      churn({ growthPercent: 20, semiSpaceMb: 2 }, ['--max_semi_space_size=8', '--heap_growing_percent=50']),
    ]);
    for (const result of [dashes, underscores]) {
      expect(result.applied).toEqual({ growthPercent: 'flag', semiSpaceMb: 'flag' });
      expect(result.maxSemiMb).toBeGreaterThan(2);
    }
  });

  it('the CLI entry keeps the young generation at 1 MB while the program loads, which V8 alone grows to several', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-semi-'));
    try {
      // Prints the semi-space size as the process exits: after `--version` has loaded every module of the program.
      const probe = join(dir, 'probe.mjs');
      writeFileSync(probe, "import v8 from 'node:v8';\nprocess.on('exit', () => process.stderr.write('SEMI ' + v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 + '\\n'));\n");
      const semiAfterLoading = async (entry: string) => {
        const { stderr } = await run(process.execPath, ['--import', probe, fileURLToPath(new URL(`../../dist/src/cli/${entry}`, import.meta.url)), '--version'], { timeout: 60_000, env: { PATH: process.env.PATH ?? '' } });
        return Number(/SEMI (\d+)/.exec(stderr)?.[1]) / 1048576;
      };
      const [entry, programAlone] = await Promise.all([semiAfterLoading('main.js'), semiAfterLoading('program.js')]);
      expect(entry).toBe(1);
      expect(programAlone).toBeGreaterThan(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
