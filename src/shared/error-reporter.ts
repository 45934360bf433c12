import type { Logger } from 'pino';

/**
 * Background errors from connections (ioredis, BullMQ's queue and worker)
 * repeat on every reconnect attempt while Redis is away. This reports the
 * first one of each source, then at most one a minute with how many were
 * suppressed, and names a refused password as such rather than as an outage.
 */
export class ErrorReporter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  report(source: string, error: unknown): void {
    const now = Date.now();
    const seen = this.last.get(source);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed += 1;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.set(source, { at: now, suppressed: 0 });
    const text = error instanceof Error ? error.message : String(error);
    const auth = /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username-password/i.test(text);
    this.logger.warn(
      { err: error, connection: source, suppressed },
      auth ? 'redis refused the credentials (check the user and password in the URL)' : 'redis unreachable: retrying with backoff',
    );
  }

  /** A connection is healthy again: the next error is reported at once. */
  recovered(source: string): void {
    if (this.last.delete(source)) this.logger.info({ connection: source }, 'redis reachable again');
  }
}
