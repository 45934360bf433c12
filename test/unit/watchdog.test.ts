import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Watchdog, type WatchdogOptions } from '../../src/watchdog.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const STUCK_AFTER = 60_000;

/** A watchdog over fakes: schedulers whose next runs are given, a last activity, a counting recreateWorker. */
function watchdog(nexts: number[], lastActivity: number, overrides: Partial<WatchdogOptions> = {}) {
  const recreateWorker = vi.fn(async () => undefined);
  const reconcile = vi.fn(async () => nexts.map((next, i) => ({ key: `job-${i}`, next })));
  const logger = pino({ level: 'silent' });
  const dog = new Watchdog({
    intervalMs: 1_000,
    stuckAfterMs: STUCK_AFTER,
    logger,
    reconcile,
    lastActivity: () => lastActivity,
    recreateWorker,
    ...overrides,
  });
  return { dog, recreateWorker, reconcile, logger };
}

describe('Watchdog.check', () => {
  it('recreates the worker when a scheduler is overdue by more than stuckAfter and no job ran for as long', async () => {
    const { dog, recreateWorker } = watchdog([NOW - STUCK_AFTER - 1], NOW - STUCK_AFTER - 1);
    expect(await dog.check(NOW)).toBe(true);
    expect(recreateWorker).toHaveBeenCalledTimes(1);
  });

  it('judges by the most overdue scheduler when several are registered', async () => {
    const { dog, recreateWorker } = watchdog([NOW + 5_000, NOW - 10 * STUCK_AFTER, NOW + 60_000], NOW - 10 * STUCK_AFTER);
    expect(await dog.check(NOW)).toBe(true);
    expect(recreateWorker).toHaveBeenCalledTimes(1);
  });

  it('leaves the worker alone when a job ran recently, however overdue a scheduler is', async () => {
    const { dog, recreateWorker } = watchdog([NOW - 10 * STUCK_AFTER], NOW - 1_000);
    expect(await dog.check(NOW)).toBe(false);
    expect(recreateWorker).not.toHaveBeenCalled();
  });

  it('leaves an idle worker alone while no scheduler is overdue by more than stuckAfter', async () => {
    for (const next of [NOW + 30_000, NOW - 1_000, NOW - STUCK_AFTER]) {
      const { dog, recreateWorker } = watchdog([next], NOW - 10 * STUCK_AFTER);
      expect(await dog.check(NOW), `next run ${next - NOW} ms from now`).toBe(false);
      expect(recreateWorker).not.toHaveBeenCalled();
    }
  });

  it('leaves the worker alone when no scheduler is registered', async () => {
    const { dog, recreateWorker } = watchdog([], NOW - 10 * STUCK_AFTER);
    expect(await dog.check(NOW)).toBe(false);
    expect(recreateWorker).not.toHaveBeenCalled();
  });

  it('reconciles the schedulers on every check', async () => {
    const { dog, reconcile } = watchdog([NOW + 1_000], NOW);
    await dog.check(NOW);
    await dog.check(NOW + 1_000);
    expect(reconcile).toHaveBeenCalledTimes(2);
  });
});

describe('Watchdog timer loop', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs a failed reconcile instead of throwing, and checks again at the next interval', async () => {
    vi.useFakeTimers({ now: NOW });
    const failure = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const reconcile = vi.fn<WatchdogOptions['reconcile']>().mockRejectedValueOnce(failure).mockResolvedValue([]);
    const { dog, logger } = watchdog([], NOW, { reconcile });
    const warn = vi.spyOn(logger, 'warn');
    dog.start();
    try {
      await vi.advanceTimersByTimeAsync(1_000);
      expect(reconcile).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith({ err: failure }, expect.stringContaining('watchdog check failed'));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(reconcile).toHaveBeenCalledTimes(2);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      dog.stop();
    }
  });

  it('logs a failed worker recreation instead of throwing, and keeps checking', async () => {
    vi.useFakeTimers({ now: NOW });
    const failure = new Error('closing the worker timed out');
    const recreateWorker = vi.fn<WatchdogOptions['recreateWorker']>().mockRejectedValue(failure);
    const { dog, logger, reconcile } = watchdog([NOW - 10 * STUCK_AFTER], NOW - 10 * STUCK_AFTER, { recreateWorker });
    const warn = vi.spyOn(logger, 'warn');
    dog.start();
    try {
      await vi.advanceTimersByTimeAsync(2_000);
      expect(recreateWorker).toHaveBeenCalledTimes(2);
      expect(reconcile).toHaveBeenCalledTimes(2);
      expect(warn).toHaveBeenCalledWith({ err: failure }, expect.any(String));
    } finally {
      dog.stop();
    }
  });

  it('never starts a check while the previous one is still waiting for Redis, within its deadline', async () => {
    vi.useFakeTimers({ now: NOW });
    let answer!: (value: Array<{ key: string; next?: number }>) => void;
    const reconcile = vi
      .fn<WatchdogOptions['reconcile']>()
      .mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)))
      .mockResolvedValue([]);
    const { dog } = watchdog([], NOW, { reconcile });
    dog.start();
    try {
      // The deadline of one reconcile is min(stuckAfter, max(5 s, interval)).
      await vi.advanceTimersByTimeAsync(4_500);
      expect(reconcile).toHaveBeenCalledTimes(1);
      answer([]);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(reconcile).toHaveBeenCalledTimes(2);
    } finally {
      dog.stop();
    }
  });

  it('recreates the worker when its own Redis calls get no answer for longer than stuckAfter (a half-open connection)', async () => {
    // No error and no reply: what a connection into a black hole (a failover,
    // a lost NAT entry) looks like. Waiting for the reply forever would stop
    // every later check, so the watchdog must give up on it in time.
    vi.useFakeTimers({ now: NOW });
    const reconcile = vi.fn<WatchdogOptions['reconcile']>(() => new Promise(() => undefined));
    const { dog, recreateWorker } = watchdog([], NOW, { reconcile });
    dog.start();
    try {
      await vi.advanceTimersByTimeAsync(STUCK_AFTER + 5_000);
      expect(recreateWorker).toHaveBeenCalled();
    } finally {
      dog.stop();
    }
  });

  it('checks no more once stopped, also when stopped during a check', async () => {
    vi.useFakeTimers({ now: NOW });
    let answer!: (value: Array<{ key: string; next?: number }>) => void;
    const reconcile = vi
      .fn<WatchdogOptions['reconcile']>()
      .mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)))
      .mockResolvedValue([]);
    const { dog } = watchdog([], NOW, { reconcile });
    dog.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(reconcile).toHaveBeenCalledTimes(1);
    dog.stop();
    answer([]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reconcile).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits, without recreating anything, while the connection is down (an outage, not a hang)', async () => {
    vi.useFakeTimers({ now: NOW });
    const reconcile = vi.fn<WatchdogOptions['reconcile']>(() => new Promise(() => undefined));
    const { dog, recreateWorker } = watchdog([], NOW, { reconcile, connected: () => false });
    dog.start();
    try {
      await vi.advanceTimersByTimeAsync(STUCK_AFTER * 2);
      expect(recreateWorker).not.toHaveBeenCalled();
      expect(reconcile).toHaveBeenCalledTimes(1);
    } finally {
      dog.stop();
    }
  });
});
