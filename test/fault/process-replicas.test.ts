/**
 * The process half of the fault suite, replicas: several daemons share one
 * queue; one is SIGKILLed mid-job, or all of them are stopped and started
 * again, repeatedly. The promise: the killed replica's job is taken over and
 * its keys are written; there stays one scheduler per job and one run per
 * tick; every warmed key holds whole JSON.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { DaemonProcess } from '../support/daemon.js';
import { eventually } from '../support/daemon.js';
import { redisUrl } from '../support/redis.js';
import type { Simulator } from '../support/simulator/server.js';
import { activeJobs, checkCacheKeys, exitWithin, jobState, leaks, onlyJobs, processWorldPerTest, secretForms, sleep, type ProcessWorld } from '../support/process-fault.js';

const TOKEN = 'REPL0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
const LOCK_MS = 2_000;
const STALLED_INTERVAL_MS = 1_000;

/** Second-scale stalled-job recovery: a dead replica's job lock expires after 2 s, replicas look every second. */
const REPLICA_ENV = {
  UPSTREAM_TOKEN: TOKEN,
  WORKER_LOCK_DURATION: `${LOCK_MS}ms`,
  WORKER_STALLED_INTERVAL: `${STALLED_INTERVAL_MS}ms`,
  SHUTDOWN_GRACE: '3s',
  UPSTREAM_DEADLINE: '2s',
  UPSTREAM_TIMEOUT: '2s',
  UPSTREAM_RETRIES: '0',
  UPSTREAM_CONCURRENCY: '2',
  LOG_LEVEL: 'debug',
};

/** Nothing secret in what the processes wrote: the token, as is and URL-encoded. */
const secretLeaks = (w: ProcessWorld) => leaks(w.outputLines(), secretForms(TOKEN));

const world = processWorldPerTest({ redisUrl, env: REPLICA_ENV, simulator: { token: TOKEN } });

const ongoingIds = (sim: Simulator) => sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);
const reconciled = (d: DaemonProcess) => d.waitForLog((l) => l.msg === 'schedulers reconciled', 20_000);
const statusField = async (w: ProcessWorld, job: string, field: string) => Number((await w.redis.hget(`{${w.prefix}}:status:${job}`, field)) ?? 0);

describe('replicas sharing one queue', () => {
  it('hands a SIGKILLed replica’s slow job to the other replica, which writes its keys', async () => {
    const w = await world({ simulator: { projects: 12 } });
    const ongoing = ongoingIds(w.sim);
    // About 8 projects, two at a time, 1.5 s each: the topics refresh takes some 6 s.
    w.sim.fault({ kind: 'delay', ms: 1_500, route: 'topics' });
    const config = w.writeConfig({ jobs: onlyJobs({ 'projects-list': { every: '1h' }, topics: { every: '1h', ttl: '1h' } }) });
    const a = w.spawn(['run', '--config', config]);
    await eventually(async () => (w.sim.requests.some((r) => r.route === 'topics') ? true : undefined), 20_000, 'a topics request');
    const [job] = (await activeJobs(w.redis, w.queueKey)).filter((j) => j.name === 'topics');
    expect(job, 'the first replica runs topics').toBeDefined();
    const b = w.spawn(['run', '--config', config]);
    await reconciled(b);
    // Still mid-job on the first replica when it dies.
    expect(await jobState(w.redis, w.queueKey, job!.id)).toBe('active');

    const killedAt = Date.now();
    const t0 = performance.now();
    process.kill(a.pid, 'SIGKILL');
    expect(await exitWithin(a, 5_000)).toBeNull();
    w.sim.clearFaults();

    const stalled = await b.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('job stalled') && l.id === job!.id, 20_000);
    const stalledMs = performance.now() - t0;
    expect(stalled).toBeDefined();
    await eventually(
      async () => {
        const now = await checkCacheKeys(w.redis, w.prefix);
        const fresh = ongoing.filter((id) => Date.parse(now.values.get(`${w.prefix}:project:${id}:topics`)?.cached_at ?? '') >= killedAt);
        return fresh.length === ongoing.length ? true : undefined;
      },
      20_000,
      'every topics key written after the kill',
    );
    const recoveredMs = performance.now() - t0;
    console.info(`[fault] SIGKILL mid-job → 'job stalled' on the survivor after ${Math.round(stalledMs)} ms, every key fresh after ${Math.round(recoveredMs)} ms (lock ${LOCK_MS} ms, stalled check ${STALLED_INTERVAL_MS} ms)`);
    // Lock expiry plus two stalled checks (one marks, the next moves), plus the run itself.
    expect(recoveredMs).toBeLessThan(LOCK_MS + 2 * STALLED_INTERVAL_MS + 3_000);

    await eventually(async () => ((await jobState(w.redis, w.queueKey, job!.id)) === 'completed' ? true : undefined), 5_000, 'the taken-over job to complete');
    expect(await w.redis.hgetall(`{${w.prefix}}:status:topics`)).toMatchObject({ runs: '1', successes: '1', lastResult: 'ok' });
    expect(await w.redis.zcard(w.queueKey('failed'))).toBe(0);
    expect((await checkCacheKeys(w.redis, w.prefix)).problems).toEqual([]);

    process.kill(b.pid, 'SIGTERM');
    expect(await exitWithin(b, 15_000)).toBe(0);
    expect(secretLeaks(w)).toEqual([]);
  });

  it('[slow] keeps one scheduler per job and one run per tick after three replicas are stopped and started together, three times, by SIGTERM and SIGKILL', async () => {
    // 150 ms per request: a topics run takes a few hundred ms, so a stop often lands mid-job.
    const w = await world({ simulator: { projects: 6, latencyMs: 150 } });
    const n = ongoingIds(w.sim).length;
    const config = w.writeConfig({
      jobs: onlyJobs({ 'projects-list': { every: '1h' }, 'daily-stats': { every: '1h' }, topics: { every: '1s', ttl: '30s' } }),
    });
    const start = () => w.spawn(['run', '--config', config]);
    const replicas: DaemonProcess[] = [start(), start(), start()];
    const testStart = performance.now();
    await Promise.all(replicas.map(reconciled));
    await eventually(async () => ((await statusField(w, 'topics', 'runs')) >= 2 ? true : undefined), 15_000, 'two topics runs');

    // Which replicas stop, and how, each round: all gracefully, two killed, all mixed.
    const rounds: Array<Array<NodeJS.Signals | null>> = [
      ['SIGTERM', 'SIGTERM', 'SIGTERM'],
      ['SIGKILL', 'SIGKILL', null],
      ['SIGKILL', 'SIGTERM', 'SIGKILL'],
    ];
    for (const [round, signals] of rounds.entries()) {
      // Stop while a job runs, so that the stopped replicas leave work behind.
      await eventually(async () => ((await w.redis.llen(w.queueKey('active'))) > 0 ? true : undefined), 5_000, 'a job running', 10);
      const stopping = signals.flatMap((signal, i) => (signal ? [{ i, signal, daemon: replicas[i]! }] : []));
      const codes = await Promise.all(
        stopping.map(async ({ signal, daemon }) => {
          process.kill(daemon.pid, signal);
          return exitWithin(daemon, 15_000);
        }),
      );
      stopping.forEach(({ signal }, k) => expect(codes[k], `round ${round + 1}: exit after ${signal}`).toBe(signal === 'SIGTERM' ? 0 : null));
      for (const { i } of stopping) replicas[i] = start();
      await Promise.all(stopping.map(({ i }) => reconciled(replicas[i]!)));
      const runs = await statusField(w, 'topics', 'runs');
      await eventually(async () => ((await statusField(w, 'topics', 'runs')) > runs ? true : undefined), 10_000, `a topics run after round ${round + 1}`);
    }

    // One scheduler per job (daily-stats has its midnight extra).
    const schedulers = await w.redis.zrange(w.queueKey('repeat'), 0, -1);
    expect(schedulers.sort()).toEqual(['daily-stats', 'daily-stats@alsoAt', 'projects-list', 'topics']);
    // The hourly jobs ran once, however many replicas started.
    expect(await statusField(w, 'projects-list', 'runs')).toBe(1);
    expect(await statusField(w, 'daily-stats', 'runs')).toBe(1);

    // Let the work stopped replicas left behind be done first: a killed
    // replica's job comes back within a lock duration and two checks, an
    // abandoned one a second after it was handed back. Settled when every
    // active job is locked by a live replica and the only topics job waiting
    // is the scheduler's next one.
    await eventually(
      async () => {
        const active = await w.redis.lrange(w.queueKey('active'), 0, -1);
        const locked = await Promise.all(active.map((id) => w.redis.exists(w.queueKey(`${id}:lock`))));
        const next = `repeat:topics:${await w.redis.zscore(w.queueKey('repeat'), 'topics')}`;
        const delayed = (await w.redis.zrange(w.queueKey('delayed'), 0, -1)).filter((id) => id.startsWith('repeat:topics:'));
        const waiting = await w.redis.llen(w.queueKey('wait'));
        return locked.every(Boolean) && delayed.every((id) => id === next) && waiting === 0 ? true : undefined;
      },
      10_000,
      'the work of stopped replicas to be done',
      20,
    );

    // One run per tick: over a window, about one run a second and every
    // project asked once per run, not once per replica.
    const windowMs = 6_000;
    const runsBefore = await statusField(w, 'topics', 'runs');
    w.sim.resetRequests();
    await sleep(windowMs);
    const runs = (await statusField(w, 'topics', 'runs')) - runsBefore;
    const requests = w.sim.count('topics');
    console.info(`[fault] 3 replicas after 3 rounds of restarts: ${runs} topics runs and ${requests} topics requests (${n} projects) in ${windowMs} ms`);
    expect(runs).toBeGreaterThanOrEqual(windowMs / 1_000 - 2);
    expect(runs).toBeLessThanOrEqual(windowMs / 1_000 + 1);
    expect(Math.abs(requests - runs * n)).toBeLessThanOrEqual(n);

    // Over the whole test too: no more runs than ticks, plus one re-run per
    // job a stopped replica abandoned or a killed one left behind.
    const elapsedS = (performance.now() - testStart) / 1_000;
    const logs = w.processes.flatMap((p) => p.logs);
    const reruns = logs.filter((l) => typeof l.msg === 'string' && (l.msg.startsWith('job stalled') || l.msg.startsWith('refresh abandoned'))).length;
    console.info(`[fault] whole test: ${await statusField(w, 'topics', 'runs')} topics runs in ${elapsedS.toFixed(1)} s, ${reruns} re-runs of stopped replicas' jobs`);
    expect(await statusField(w, 'topics', 'runs')).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1 + reruns);
    expect(await statusField(w, 'topics', 'failures')).toBe(0);
    expect(await w.redis.zcard(w.queueKey('failed'))).toBe(0);
    // Fresh within a cadence: every topics key was written in the last tick or two.
    const keys = await checkCacheKeys(w.redis, w.prefix);
    expect(keys.problems).toEqual([]);
    const ages = ongoingIds(w.sim).map((id) => Date.now() - Date.parse(keys.values.get(`${w.prefix}:project:${id}:topics`)?.cached_at ?? ''));
    expect(Math.max(...ages)).toBeLessThan(2_500);

    const codes = await Promise.all(
      replicas.map(async (d) => {
        process.kill(d.pid, 'SIGTERM');
        return exitWithin(d, 15_000);
      }),
    );
    expect(codes).toEqual([0, 0, 0]);
    expect(secretLeaks(w)).toEqual([]);
  });
});
