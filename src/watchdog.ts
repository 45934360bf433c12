import type { Logger } from 'pino';

export interface WatchdogOptions {
  intervalMs: number;
  stuckAfterMs: number;
  logger: Logger;
  /** Re-registers missing or changed schedulers; returns the schedulers with their next run. */
  reconcile(): Promise<Array<{ key: string; next?: number }>>;
  /** When the worker last started or finished a job. */
  lastActivity(): number;
  /** Jobs running now: a worker busy with a long run is not stuck. @defaultValue always 0 */
  activeJobs?(): number;
  /**
   * Whether the queue connection is up (or connected and waiting for its
   * handshake): an unanswered call on it is a hang; on a reconnecting one, an
   * outage. @defaultValue always true
   */
  connected?(): boolean;
  recreateWorker(): Promise<void>;
}

/**
 * Health that PING cannot see. Every interval:
 * - reconcile: a flushed Redis or evicted keys lose the schedulers; they are
 *   registered again (idempotent, so replicas doing it together are fine);
 * - liveness: BullMQ has had bugs where a worker silently stopped consuming
 *   after a reconnect. When a scheduler is overdue by `stuckAfter` and the
 *   worker has taken no job for as long, the worker is recreated.
 * Runs are chained (never overlapping) and errors are logged, never thrown:
 * while Redis is down the check simply fails until it is back.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pending: Promise<Array<{ key: string; next?: number }>> | undefined;

  constructor(private readonly options: WatchdogOptions) {}

  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** How long one reconcile may take before the connection is taken for hung. */
  private get reconcileDeadlineMs(): number {
    return Math.min(this.options.stuckAfterMs, Math.max(5_000, this.options.intervalMs));
  }

  /** One check; exposed for tests. Returns true when it recreated the worker. */
  async check(now = Date.now()): Promise<boolean> {
    const { logger, stuckAfterMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), this.reconcileDeadlineMs)));
    // One reconcile at a time: a call still unanswered from an earlier check
    // is waited on again rather than joined by another.
    if (!this.pending) {
      const started = this.options.reconcile();
      this.pending = started;
      started.then(
        () => (this.pending === started ? (this.pending = undefined) : undefined),
        () => (this.pending === started ? (this.pending = undefined) : undefined),
      );
    }
    const schedulers = await Promise.race([this.pending, hung]).finally(() => clearTimeout(timer));
    if (schedulers === 'hung') {
      if (this.options.connected && !this.options.connected()) {
        // Reconnecting: an outage, which ioredis handles; not a hang.
        logger.debug('watchdog check waits for redis to come back');
        return false;
      }
      // Connected, yet no answer: abandon the call; the reconnect resends it.
      this.pending = undefined;
      // A Redis call that gets no answer, and no error either, stops everything
      // waiting on it: reconnect (in recreateWorker) rather than wait forever.
      logger.error({ deadlineMs: this.reconcileDeadlineMs }, 'redis did not answer the watchdog: reconnecting and recreating the worker');
      await this.options.recreateWorker();
      return true;
    }
    const nexts = schedulers.map((s) => Number(s.next)).filter((n) => Number.isFinite(n));
    const oldestDue = nexts.length ? Math.min(...nexts) : undefined;
    const overdueMs = oldestDue === undefined ? 0 : now - oldestDue;
    const idleMs = now - this.options.lastActivity();
    const busy = (this.options.activeJobs?.() ?? 0) > 0;
    if (overdueMs > stuckAfterMs && idleMs > stuckAfterMs && !busy) {
      logger.error({ overdueMs, idleMs }, 'worker is stuck (a scheduler is overdue and no job ran): recreating it');
      await this.options.recreateWorker();
      return true;
    }
    return false;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.check()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'watchdog check failed (redis down?)'))
        .finally(() => this.schedule());
    }, this.options.intervalMs);
  }
}
