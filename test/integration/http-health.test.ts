import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { liveness, readiness, type LivenessInput } from '../../src/http/health.js';
import { QUEUE_NAME } from '../../src/runtime.js';
import { harnessPerTest } from '../support/harness.js';
import { onlyJobs, startHttpDaemon, until } from './http-support.js';

const NOW = Date.parse('2026-01-10T12:00:00.000Z');
const STUCK = 60_000;

function live(overrides: Partial<LivenessInput> = {}) {
  return liveness({
    now: NOW,
    phase: 'running',
    workerRunning: true,
    queueConnected: true,
    lastActivity: NOW - 1_000,
    activeJobs: 0,
    schedulers: { nexts: [NOW + 30_000], readAt: NOW - 5_000 },
    stuckAfterMs: STUCK,
    watchdogIntervalMs: 30_000,
    ...overrides,
  });
}

describe('the liveness decision (/healthz)', () => {
  it('is healthy while the worker consumes, and while start() waits for Redis', () => {
    expect(live()).toMatchObject({ ok: true, status: 'ok' });
    expect(live({ phase: 'starting', workerRunning: false })).toMatchObject({ ok: true, status: 'starting' });
  });

  it('is not healthy once a scheduler is overdue and the worker has taken no job for longer than stuckAfter, as the watchdog judges', () => {
    const stuck = live({ schedulers: { nexts: [NOW + 10_000, NOW - STUCK - 1], readAt: NOW - 1_000 }, lastActivity: NOW - STUCK - 1 });
    expect(stuck).toMatchObject({ ok: false, status: 'worker stuck', overdueMs: STUCK + 1 });
    expect(stuck.reason).toMatch(/^a scheduler is overdue by 60 s and the worker has taken no job for 60 s$/);
  });

  it('is healthy when only one of the two holds, or when a long run keeps the worker busy', () => {
    expect(live({ schedulers: { nexts: [NOW - 10 * STUCK], readAt: NOW }, lastActivity: NOW - 1_000 }).ok).toBe(true);
    expect(live({ schedulers: { nexts: [NOW - STUCK], readAt: NOW }, lastActivity: NOW - 10 * STUCK }).ok).toBe(true);
    expect(live({ schedulers: { nexts: [NOW - 10 * STUCK], readAt: NOW }, lastActivity: NOW - 10 * STUCK, activeJobs: 1 }).ok).toBe(true);
    expect(live({ schedulers: { nexts: [], readAt: NOW }, lastActivity: NOW - 10 * STUCK }).ok).toBe(true);
  });

  it('does not blame the process for a Redis outage, nor judge by next runs read too long ago', () => {
    const overdue = { schedulers: { nexts: [NOW - 10 * STUCK], readAt: NOW }, lastActivity: NOW - 10 * STUCK };
    expect(live({ ...overdue, queueConnected: false })).toMatchObject({ ok: true, note: 'redis unreachable: see /readyz' });
    expect(live({ ...overdue, schedulers: { nexts: [NOW - 10 * STUCK], readAt: NOW - 2 * STUCK } }).ok).toBe(true);
    expect(live({ lastActivity: NOW - 10 * STUCK, schedulers: undefined }).ok).toBe(true);
  });

  it('is not healthy while stopping or when the worker is gone', () => {
    expect(live({ phase: 'stopping' })).toMatchObject({ ok: false, status: 'stopping' });
    expect(live({ workerRunning: false })).toMatchObject({ ok: false, status: 'worker not running' });
  });
});

describe('the readiness decision (/readyz)', () => {
  const up = { queue: 'ready', worker: 'ready', cache: 'ready' };

  it('is ready once every connection is up, the schedulers are registered and Redis answers', () => {
    expect(readiness({ phase: 'running', schedulersRegistered: true, connections: up, ping: { ok: true } })).toEqual({ ok: true, status: 'ready' });
  });

  it('names what is missing otherwise', () => {
    expect(readiness({ phase: 'starting', schedulersRegistered: false, connections: up })).toMatchObject({ ok: false, status: 'starting', reason: 'the schedulers are not registered yet' });
    expect(readiness({ phase: 'starting', schedulersRegistered: false, connections: { ...up, queue: 'reconnecting' } })).toMatchObject({
      ok: false,
      status: 'redis unreachable',
      reason: 'queue connection is reconnecting',
    });
    expect(readiness({ phase: 'running', schedulersRegistered: true, connections: { ...up, cache: 'connecting' } }).reason).toBe('cache connection is connecting');
    expect(readiness({ phase: 'running', schedulersRegistered: true, connections: up, ping: { ok: false, reason: 'PING: no answer within 1000 ms' } })).toMatchObject({
      ok: false,
      status: 'redis not answering',
    });
    expect(readiness({ phase: 'stopping', schedulersRegistered: true, connections: up })).toMatchObject({ ok: false, status: 'stopping' });
  });
});

const create = harnessPerTest({ projects: 1 });

describe('/healthz of a daemon whose worker stops consuming', () => {
  it('answers 503 "worker stuck" while the queue is paused behind its back, and 200 again once it consumes', async () => {
    const h = await create();
    const d = await startHttpDaemon(h, {
      jobs: onlyJobs({ 'projects-list': { every: '1s' } }),
      env: { WATCHDOG_INTERVAL: '1500ms', WATCHDOG_STUCK_AFTER: '500ms' },
    });
    await until('a first scheduled run', async () => ((await h.runtime.run.status.read(['projects-list']))[0]!.runs > 0 ? true : undefined));
    expect((await d.get('/healthz')).status).toBe(200);

    // Someone pauses the queue: the scheduler's run comes due and nothing takes it.
    const queue = h.track(new Queue(QUEUE_NAME, { connection: h.connect(), prefix: `{${h.prefix}}:bull` }));
    await queue.pause();
    const stuck = await until(
      'healthz to report the stuck worker',
      async () => {
        const res = await d.get('/healthz');
        return res.status === 503 ? ((await res.json()) as { status: string; reason: string }) : undefined;
      },
      10_000,
      25,
    );
    expect(stuck.status).toBe('worker stuck');
    expect(stuck.reason).toMatch(/^a scheduler is overdue by \d+ s and the worker has taken no job for \d+ s$/);
    // It stays unhealthy while nothing is consumed, also across the watchdog's
    // worker recreations (every 1.5 s here): a probe that needs three failures
    // in a row must see them.
    const answers: number[] = [];
    for (const end = Date.now() + 3_500; Date.now() < end; ) {
      answers.push((await d.get('/healthz')).status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.filter((status) => status !== 503), answers.join(" ")).toEqual([]);
    // Readiness is another question: Redis answers and the schedulers are registered.
    expect((await d.get('/readyz')).status).toBe(200);

    await queue.resume();
    const runs = (await h.runtime.run.status.read(['projects-list']))[0]!.runs;
    await until('runs to resume', async () => ((await h.runtime.run.status.read(['projects-list']))[0]!.runs > runs ? true : undefined));
    expect((await d.get('/healthz')).status).toBe(200);
  });
});
