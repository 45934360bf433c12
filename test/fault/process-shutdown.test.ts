/**
 * The process half of the fault suite, shutdown: the built CLI as a child
 * process is signalled while refreshes are in flight against a slow upstream
 * (the simulator's `delay` fault), and each test checks the promise: the
 * process exits in time with the documented code, every warmed key holds
 * whole JSON with `cached_at`, and abandoned work is not lost.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/daemon.js';
import { redisUrl } from '../support/redis.js';
import type { RouteName, Simulator } from '../support/simulator/server.js';
import { activeJobs, checkCacheKeys, exitWithin, jobState, leaks, onlyJobs, processWorldPerTest, secretForms, type ProcessWorld } from '../support/process-fault.js';

const TOKEN = 'SHUT0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
const GRACE_MS = 3_000;

/** Grace 3 s and a request deadline of 2 s below it, as the issue asks; no retries, two requests at once. */
const SHUTDOWN_ENV = {
  UPSTREAM_TOKEN: TOKEN,
  SHUTDOWN_GRACE: `${GRACE_MS}ms`,
  UPSTREAM_DEADLINE: '2s',
  UPSTREAM_TIMEOUT: '2s',
  UPSTREAM_RETRIES: '0',
  UPSTREAM_CONCURRENCY: '2',
  LOG_LEVEL: 'debug',
};

/** Nothing secret in what the processes wrote: the token, as is and URL-encoded. */
const secretLeaks = (w: ProcessWorld) => leaks(w.outputLines(), secretForms(TOKEN));

const world = processWorldPerTest({ redisUrl, env: SHUTDOWN_ENV, simulator: { token: TOKEN } });

const ongoingIds = (sim: Simulator) => sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);
/** Requests the simulator holds right now (received, not yet answered). */
const pending = (sim: Simulator, routes: RouteName[]) => sim.requests.filter((r) => routes.includes(r.route) && r.status === 0).length;
const arrived = (sim: Simulator, routes: RouteName[]) => sim.requests.filter((r) => routes.includes(r.route)).length;

/** Topics every hour: the only topics run in a test is the one at start (and its hand-over). */
function topicsConfig(w: ProcessWorld): string {
  return w.writeConfig({ jobs: onlyJobs({ 'projects-list': { every: '1h' }, topics: { every: '1h', ttl: '1h' } }) });
}

async function topicsJobInFlight(w: ProcessWorld): Promise<string> {
  const [job] = (await activeJobs(w.redis, w.queueKey)).filter((j) => j.name === 'topics');
  if (!job) throw new Error('no active topics job while its requests are in flight');
  return job.id;
}

describe('a daemon signalled while refreshes are in flight', () => {
  it('exits 0 within the grace period on SIGTERM, leaves only whole values, and hands the abandoned refresh to the next daemon', async () => {
    const w = await world({ simulator: { projects: 24 } });
    const ongoing = ongoingIds(w.sim);
    // About 17 projects, two at a time, 1.5 s each: a topics refresh takes some 13 s.
    w.sim.fault({ kind: 'delay', ms: 1_500, route: 'topics' });
    const config = topicsConfig(w);
    const first = w.spawn(['run', '--config', config]);
    // Two units done, two in flight.
    await eventually(async () => (arrived(w.sim, ['topics']) >= 4 && pending(w.sim, ['topics']) >= 1 ? true : undefined), 20_000, 'topics requests in flight');
    const jobId = await topicsJobInFlight(w);

    const signalledAt = Date.now();
    const t0 = performance.now();
    process.kill(first.pid, 'SIGTERM');
    const code = await exitWithin(first, 15_000);
    const exitMs = performance.now() - t0;
    console.info(`[fault] SIGTERM with topics in flight → exit ${code} in ${Math.round(exitMs)} ms (grace ${GRACE_MS} ms)`);

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS);
    expect(first.logs.some((l) => l.msg === 'stopped')).toBe(true);
    const abandoned = first.logs.find((l) => l.msg === 'refresh abandoned at shutdown: it will run again' && l.job === 'topics');
    expect(abandoned, 'the topics run says it was abandoned').toBeDefined();

    // Nothing half-written: whole JSON everywhere, and exactly the units that
    // finished before the signal were written (the others keep no value yet).
    const after = await checkCacheKeys(w.redis, w.prefix);
    expect(after.problems).toEqual([]);
    const topicsKeys = [...after.values.keys()].filter((k) => k.endsWith(':topics'));
    expect(topicsKeys.length).toBe(abandoned!.keys);
    expect(topicsKeys.length).toBeGreaterThanOrEqual(2);
    expect(topicsKeys.length).toBeLessThan(ongoing.length);
    // Abandoned is not a failure: no run recorded, nothing failed in BullMQ.
    expect(await w.redis.hget(`{${w.prefix}}:status:topics`, 'failures')).toBeNull();
    expect(await w.redis.zcard(w.queueKey('failed'))).toBe(0);

    // Handed back to the queue, and run by the next daemon.
    expect(await jobState(w.redis, w.queueKey, jobId)).toBe('delayed');
    w.sim.clearFaults();
    const startedAt = performance.now();
    const second = w.spawn(['run', '--config', config]);
    await eventually(
      async () => {
        const now = await checkCacheKeys(w.redis, w.prefix);
        const fresh = ongoing.filter((id) => Date.parse(now.values.get(`${w.prefix}:project:${id}:topics`)?.cached_at ?? '') >= signalledAt);
        return fresh.length === ongoing.length ? true : undefined;
      },
      15_000,
      'every topics key fresh from the handed-over run',
    );
    console.info(`[fault] abandoned topics refresh run by the next daemon: fresh ${Math.round(performance.now() - startedAt)} ms after it started`);
    await eventually(async () => ((await jobState(w.redis, w.queueKey, jobId)) === 'completed' ? true : undefined), 5_000, 'the handed-over job to complete');
    const status = await w.redis.hgetall(`{${w.prefix}}:status:topics`);
    expect(status).toMatchObject({ runs: '1', successes: '1', lastResult: 'ok', lastTrigger: 'schedule' });
    expect((await checkCacheKeys(w.redis, w.prefix)).problems).toEqual([]);

    process.kill(second.pid, 'SIGTERM');
    expect(await exitWithin(second, 15_000)).toBe(0);
    expect(secretLeaks(w)).toEqual([]);
  });

  it('stops long paged units at their next page on SIGTERM, exits 0 within the grace period and writes no partial value', async () => {
    // Leaderboards of two rankings a page, 800 ms a page: a unit of ten or
    // more pages would outlast the 3 s grace; it stops at its next page instead.
    const w = await world({ simulator: { projects: 8, rankingPageSize: 2 } });
    const longest = Math.max(...w.sim.data.projects.filter((p) => p.status === 'ongoing').map((p) => p.rankings.continuous.length));
    expect(longest, 'a leaderboard of many pages').toBeGreaterThanOrEqual(10);
    w.sim.fault({ kind: 'delay', ms: 800, route: 'ranking' });
    const daemon = w.spawn(['run', '--config', w.writeConfig({ jobs: onlyJobs({ 'projects-list': { every: '1h' }, leaderboards: { every: '1h' } }) })]);
    await eventually(async () => (arrived(w.sim, ['ranking']) >= 4 && pending(w.sim, ['ranking']) >= 1 ? true : undefined), 20_000, 'leaderboard pages in flight');
    const [job] = (await activeJobs(w.redis, w.queueKey)).filter((j) => j.name === 'leaderboards');
    expect(job).toBeDefined();

    const t0 = performance.now();
    process.kill(daemon.pid, 'SIGTERM');
    const code = await exitWithin(daemon, 15_000);
    const exitMs = performance.now() - t0;
    console.info(`[fault] SIGTERM with units outlasting the grace → exit ${code} in ${Math.round(exitMs)} ms (grace ${GRACE_MS} ms)`);

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS + 1_000);
    const abandoned = daemon.logs.find((l) => l.msg === 'refresh abandoned at shutdown: it will run again' && l.job === 'leaderboards');
    expect(abandoned, 'the leaderboards run says it was abandoned').toBeDefined();
    const after = await checkCacheKeys(w.redis, w.prefix);
    expect(after.problems).toEqual([]);
    // A unit cut off between pages writes nothing: every leaderboard written is a whole one.
    const boards = [...after.values.entries()].filter(([k]) => k.includes(':leaderboard:'));
    expect(boards.length).toBe(abandoned!.keys);
    for (const [key, value] of boards) {
      const id = key.split(':')[2]!;
      const type = key.endsWith(':continuous') ? 'continuous' : 'accumulated';
      const full = Math.min(100, w.sim.data.projects.find((p) => p.checkin_id === id)!.rankings[type].length);
      expect((value as unknown as { rankings: unknown[] }).rankings.length, key).toBe(full);
    }
    expect(await jobState(w.redis, w.queueKey, job!.id)).toBe('delayed');
    expect(await w.redis.zcard(w.queueKey('failed'))).toBe(0);
    expect(secretLeaks(w)).toEqual([]);
    // Stopped at the next page (one 800 ms page at most), well inside the grace.
    expect(exitMs).toBeLessThan(GRACE_MS);
  });

  it('stops at once with exit code 1 on a second SIGTERM during the drain, leaving whole values and the job recoverable', async () => {
    // A drain that would take some 4 s: each topics request is held 4 s.
    const w = await world({
      simulator: { projects: 16 },
      env: { SHUTDOWN_GRACE: '6s', UPSTREAM_DEADLINE: '5s', UPSTREAM_TIMEOUT: '5s' },
    });
    w.sim.fault({ kind: 'delay', ms: 4_000, route: 'topics' });
    const daemon = w.spawn(['run', '--config', topicsConfig(w)]);
    await eventually(async () => (pending(w.sim, ['topics']) >= 2 ? true : undefined), 20_000, 'two topics requests in flight');
    const jobId = await topicsJobInFlight(w);

    const t0 = performance.now();
    process.kill(daemon.pid, 'SIGTERM');
    await daemon.waitForLog((l) => l.msg === 'stopping: waiting for running refreshes', 5_000);
    const t1 = performance.now();
    process.kill(daemon.pid, 'SIGTERM');
    const code = await exitWithin(daemon, 15_000);
    const secondToExit = performance.now() - t1;
    const firstToExit = performance.now() - t0;
    console.info(`[fault] second SIGTERM → exit ${code} in ${Math.round(secondToExit)} ms (${Math.round(firstToExit)} ms after the first; the drain needed ~4000 ms)`);

    expect(code).toBe(1);
    expect(daemon.logs.some((l) => l.msg === 'second signal: stopping at once')).toBe(true);
    expect((await checkCacheKeys(w.redis, w.prefix)).problems).toEqual([]);
    // Not lost: back in the queue, or still active for stalled-job recovery; never failed.
    expect(['delayed', 'active']).toContain(await jobState(w.redis, w.queueKey, jobId));
    expect(await w.redis.zcard(w.queueKey('failed'))).toBe(0);
    expect(secretLeaks(w)).toEqual([]);

    // "At once": the requests are abandoned and the connections closed, a few
    // hundred milliseconds at most, far less than the ~4 s the drain needed.
    // Fails today: forceStop() and the pending stop() both close every Redis
    // client, and closeRedis() calls disconnect() on a client whose socket is
    // already closed, which arms ioredis's 2 s disconnect timer (ref'd) that
    // nothing clears (src/shared/redis.ts:38, src/daemon.ts:166 and :175).
    expect(secondToExit).toBeLessThan(1_000);
    expect(firstToExit).toBeLessThan(2_000);
  });
});

describe('--once signalled while it runs', () => {
  it('starts no more units or jobs after SIGTERM, exits 1 within the grace period, and leaves only whole values', async () => {
    const w = await world({ simulator: { projects: 16 } });
    const perProject: RouteName[] = ['statistics', 'daily', 'ranking', 'topics'];
    // The projects list is quick; every per-project request takes 1.5 s.
    w.sim.fault({ kind: 'delay', ms: 1_500, route: perProject });
    const once = w.spawn(['--once', 'all']);
    await eventually(async () => (arrived(w.sim, perProject) >= 4 && pending(w.sim, perProject) >= 1 ? true : undefined), 20_000, 'per-project requests in flight');
    const sentAtSignal = arrived(w.sim, perProject);

    const t0 = performance.now();
    process.kill(once.pid, 'SIGTERM');
    const code = await exitWithin(once, 15_000);
    const exitMs = performance.now() - t0;
    console.info(`[fault] --once all: SIGTERM → exit ${code} in ${Math.round(exitMs)} ms (grace ${GRACE_MS} ms)`);

    expect(code).toBe(1);
    expect(exitMs).toBeLessThan(GRACE_MS);
    // No unit starts after the signal: at most the requests already sent.
    expect(arrived(w.sim, perProject)).toBe(sentAtSignal);
    const summary = once.logs.find((l) => l.msg === 'once finished with failures');
    expect(summary, 'the summary line').toBeDefined();
    const abandoned = once.logs.find((l) => l.msg === 'refresh abandoned at shutdown: it will run again');
    expect(abandoned, 'the running job says it was abandoned').toBeDefined();
    // projects-list ran, the job in flight was abandoned, the other three never started.
    expect(summary).toMatchObject({ jobs: 2, failed: [abandoned!.job], skipped: 3 });

    const after = await checkCacheKeys(w.redis, w.prefix);
    expect(after.problems).toEqual([]);
    expect(after.values.has(`${w.prefix}:projects:list:ongoing`)).toBe(true);
    expect(await w.redis.hgetall(`{${w.prefix}}:status:projects-list`)).toMatchObject({ runs: '1', successes: '1', lastTrigger: 'once' });
    expect(secretLeaks(w)).toEqual([]);
  });
});
