/**
 * The decisions behind /healthz and /readyz, as pure functions of what the
 * daemon knows, so that each case is tested with chosen inputs.
 *
 * Liveness asks "would restarting this process help?": a stuck worker, yes;
 * a Redis outage, no (a new process would wait for Redis just the same), so
 * an outage fails readiness only.
 */

export type Phase = 'starting' | 'running' | 'stopping';

export interface Verdict {
  ok: boolean;
  /** `ok`, `starting`, `ready` when ok; why not otherwise (one line, no secret). */
  status: string;
  reason?: string;
  [detail: string]: unknown;
}

export interface LivenessInput {
  now: number;
  phase: Phase;
  /** A worker exists and has not been closed. */
  workerRunning: boolean;
  /** The queue connection is up: a worker waiting on a reconnecting one is in an outage, not stuck. */
  queueConnected: boolean;
  /** When the worker last started or finished a job. */
  lastActivity: number;
  activeJobs: number;
  /** The schedulers' next runs as the watchdog last read them, and when it read them; undefined before its first check. */
  schedulers?: { nexts: readonly number[]; readAt: number };
  stuckAfterMs: number;
  watchdogIntervalMs: number;
}

/**
 * The watchdog's notion of a stuck worker (src/watchdog.ts): a scheduler is
 * overdue by more than `stuckAfter`, the worker has taken no job for as long,
 * and it is not busy with a long run. The watchdog then recreates the worker;
 * until that helps, the process is not healthy.
 */
export function liveness(input: LivenessInput): Verdict {
  if (input.phase === 'stopping') return { ok: false, status: 'stopping', reason: 'the daemon is shutting down' };
  // While start() waits for Redis there is no worker yet: an outage, not a fault of this process.
  if (input.phase === 'starting') return { ok: true, status: 'starting' };
  if (!input.workerRunning) return { ok: false, status: 'worker not running', reason: 'the worker is closed and was not recreated' };
  const idleMs = Math.max(0, input.now - input.lastActivity);
  const details = { idleMs, activeJobs: input.activeJobs };
  if (!input.queueConnected) return { ok: true, status: 'ok', ...details, note: 'redis unreachable: see /readyz' };
  const schedulers = input.schedulers;
  // Next runs read long ago (the watchdog cannot reach Redis) say nothing about now.
  const fresh = schedulers !== undefined && input.now - schedulers.readAt <= Math.max(input.stuckAfterMs, 2 * input.watchdogIntervalMs);
  if (!fresh) return { ok: true, status: 'ok', ...details };
  const oldestDue = schedulers.nexts.length ? Math.min(...schedulers.nexts) : undefined;
  const overdueMs = oldestDue === undefined ? 0 : input.now - oldestDue;
  if (overdueMs > input.stuckAfterMs && idleMs > input.stuckAfterMs && input.activeJobs === 0) {
    return {
      ok: false,
      status: 'worker stuck',
      reason: `a scheduler is overdue by ${Math.round(overdueMs / 1000)} s and the worker has taken no job for ${Math.round(idleMs / 1000)} s`,
      ...details,
      overdueMs,
    };
  }
  return { ok: true, status: 'ok', ...details };
}

export interface ReadinessInput {
  phase: Phase;
  /** start() registered (reconciled) the schedulers. */
  schedulersRegistered: boolean;
  /** ioredis status of each connection the daemon needs, by name. */
  connections: Readonly<Record<string, string>>;
  /** The outcome of a bounded PING on the queue connection, when one was made. */
  ping?: { ok: true } | { ok: false; reason: string };
}

export function readiness(input: ReadinessInput): Verdict {
  if (input.phase === 'stopping') return { ok: false, status: 'stopping', reason: 'the daemon is shutting down' };
  const down = Object.entries(input.connections).filter(([, status]) => status !== 'ready');
  if (down.length) {
    return {
      ok: false,
      status: 'redis unreachable',
      reason: down.map(([name, status]) => `${name} connection is ${status}`).join('; '),
    };
  }
  if (!input.schedulersRegistered) return { ok: false, status: 'starting', reason: 'the schedulers are not registered yet' };
  if (input.ping && !input.ping.ok) return { ok: false, status: 'redis not answering', reason: input.ping.reason };
  return { ok: true, status: 'ready' };
}
