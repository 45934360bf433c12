import type { Logger } from 'pino';

export interface WatchdogOptions {
  intervalMs: number;
  stuckAfterMs: number;
  logger: Logger;
  /** Re-registers missing or changed schedulers; returns the schedulers with their next run. */
  reconcile(): Promise<Array<{ key: string; next?: number }>>;
  /** When the worker last started or finished a job. */
  lastActivity(): number;
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

  /** One check; exposed for tests. Returns true when it recreated the worker. */
  async check(now = Date.now()): Promise<boolean> {
    const { logger, stuckAfterMs } = this.options;
    const schedulers = await this.options.reconcile();
    const nexts = schedulers.map((s) => Number(s.next)).filter((n) => Number.isFinite(n));
    const oldestDue = nexts.length ? Math.min(...nexts) : undefined;
    const overdueMs = oldestDue === undefined ? 0 : now - oldestDue;
    const idleMs = now - this.options.lastActivity();
    if (overdueMs > stuckAfterMs && idleMs > stuckAfterMs) {
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
