import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { UpstreamError } from './errors.js';

/**
 * After a 401 nothing will work until an operator rotates the token, so the
 * gate closes on the token that was refused and every request with that same
 * token fails at once, without being sent: no retry storm. A different token
 * (the token file was rewritten) opens it again. Only a digest of the refused
 * token is kept, never the token.
 *
 * Emits 'closed' once per refused token and 'opened' when a request succeeds again.
 */
export class AuthGate extends EventEmitter {
  private refused: string | undefined;

  get isClosed(): boolean {
    return this.refused !== undefined;
  }

  check(token: string, route: string): void {
    if (this.refused !== undefined && this.refused === digest(token)) {
      throw new UpstreamError('ERR_UPSTREAM_AUTH', `${route}: not sent, the upstream refused this token (HTTP 401); waiting for a new token`);
    }
  }

  close(token: string): void {
    const refused = digest(token);
    if (this.refused === refused) return;
    this.refused = refused;
    this.emit('closed');
  }

  /**
   * A request with `token` succeeded. An answer to a request sent with the
   * refused token before the 401 arrived (they were in flight together) says
   * nothing about that token now: only another token opens the gate.
   */
  open(token: string): void {
    if (this.refused === undefined || this.refused === digest(token)) return;
    this.refused = undefined;
    this.emit('opened');
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Backoff after throttling (HTTP 429 or envelope code 1059): `Retry-After`
 * when the upstream says (capped), else the steps the app's own clients use,
 * 2 s, 5 s, 10 s, staying at 10 s while throttling goes on. Responses only
 * note what they saw; a refresh that was throttled takes one backoff, so
 * requests throttled together count once.
 */
export class ThrottleState {
  private static readonly STEPS_MS = [2_000, 5_000, 10_000];
  private streak = 0;
  private retryAfterMs: number | undefined;

  constructor(private readonly maxMs: number) {}

  /** A throttled response, with the `Retry-After` it carried. */
  note(retryAfterMs: number | undefined): void {
    if (retryAfterMs !== undefined) this.retryAfterMs = Math.max(this.retryAfterMs ?? 0, retryAfterMs);
  }

  /** The backoff for a refresh that was throttled; each call escalates. */
  take(): number {
    const step = ThrottleState.STEPS_MS[Math.min(this.streak, ThrottleState.STEPS_MS.length - 1)]!;
    this.streak += 1;
    const delay = Math.min(this.maxMs, this.retryAfterMs ?? step);
    this.retryAfterMs = undefined;
    return delay;
  }

  /** A success ends the throttling: the next backoff starts over at 2 s. */
  clear(): void {
    this.streak = 0;
    this.retryAfterMs = undefined;
  }
}
