import pLimit, { type LimitFunction } from 'p-limit';

/** One request in flight: its signal (deadline or shutdown), whether the deadline fired, and its end. */
export interface Ticket {
  readonly signal: AbortSignal;
  timedOut(): boolean;
  /** Clears the deadline and leaves the set: call once the request has ended, however. */
  end(): void;
}

/**
 * The requests of one upstream client in flight: how many may be at once,
 * and their abort at shutdown.
 *
 * - The cap (p-limit, first come first served) is per client, so per
 *   process: the runs and batches a worker takes at once share it, and the
 *   process's memory follows requests in flight, not jobs × requests.
 * - Each request has its own controller, aborted by its deadline or by
 *   shutdown. Not `AbortSignal.any([shutdown, AbortSignal.timeout(…)])`: on
 *   Node 20 every call adds an entry to the long-lived shutdown signal's set
 *   of dependants that is never removed (measured: 500,000 calls, 500,000
 *   entries, +30 MB of heap). And one listener on the shutdown signal for all
 *   of them: one per request would pass its limit of 10 at the 11th request
 *   in flight (MaxListenersExceededWarning on stderr).
 */
export class InFlight {
  private readonly controllers = new Set<AbortController>();
  private readonly slots: LimitFunction | undefined;

  constructor(shutdown: AbortSignal | undefined, maxInFlight: number | undefined) {
    this.slots = maxInFlight === undefined ? undefined : pLimit(maxInFlight);
    shutdown?.addEventListener('abort', () => {
      for (const controller of this.controllers) controller.abort(shutdown.reason);
    }, { once: true });
  }

  /** Runs `send` once a slot is free (at once without a cap). */
  whenFree<T>(send: () => Promise<T>): Promise<T> {
    return this.slots ? this.slots(send) : send();
  }

  /** Starts the clock of one request: its deadline begins now, not while it waited for a slot. */
  start(deadlineMs: number): Ticket {
    const controller = new AbortController();
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`deadline of ${deadlineMs} ms`, 'TimeoutError'));
    }, deadlineMs);
    this.controllers.add(controller);
    return {
      signal: controller.signal,
      timedOut: () => timedOut,
      end: () => {
        clearTimeout(deadline);
        this.controllers.delete(controller);
      },
    };
  }
}
