import { WarmerError } from '../shared/errors.js';

/** A call that did not settle in time: the caller answers without it (the call itself is left to finish or fail). */
export class DeadlineError extends WarmerError {
  constructor(what: string, ms: number) {
    // ERR_CACHE: every bounded call here waits on Redis.
    super('ERR_CACHE', `${what}: no answer within ${ms} ms`);
  }
}

/**
 * Races a promise against a timer. Scrapes and probes must answer while Redis
 * hangs or is down: the daemon's queue connection queues commands until Redis
 * is back, so an unbounded await there would hang the HTTP request.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    timer.unref();
  });
  // A late rejection of the abandoned call must not become an unhandled rejection.
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
