/**
 * The daemon's full warm cycle: `cache-warmer --once all` as a child process,
 * read from its `once finished` log line (keys, bytes, seconds, requests) and
 * timed from outside; the upstream requests are counted on the simulator.
 * Also the same run under an upstream rate limit (`UPSTREAM_RATE_LIMIT`).
 */
import { fileURLToPath } from 'node:url';
import type { Simulator } from '../test/support/simulator/server.js';
import { spawnNode, waitForExit, type Cleanup } from './processes.js';
import { trackCpu } from './proc.js';
import { maxInWindow } from './stats.js';

/** The built CLI, as users run it. */
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Where a daemon finds its upstream: a simulator, in this process or its own. */
export interface UpstreamTarget {
  url: string;
  token: string;
  groupId: string;
}

export const upstreamOf = (sim: Simulator): UpstreamTarget => ({ url: sim.url, token: sim.options.token, groupId: sim.options.groupId });

export interface DaemonTarget {
  upstream: UpstreamTarget;
  redisUrl: string;
  prefix: string;
  concurrency: number;
  /** NODE_OPTIONS of the daemon process, when set. */
  nodeOptions?: string;
}

/** A target whose simulator runs in this process, so that its requests can be counted. */
export interface CountedTarget extends DaemonTarget {
  sim: Simulator;
}

/** The daemon's environment for a target (JSON logs at info, no rate limit unless `extra` sets one). */
export function daemonEnv(target: DaemonTarget, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: target.redisUrl,
    CACHE_PREFIX: target.prefix,
    UPSTREAM_BASE_URL: target.upstream.url,
    UPSTREAM_TOKEN: target.upstream.token,
    UPSTREAM_GROUP_ID: target.upstream.groupId,
    UPSTREAM_CONCURRENCY: String(target.concurrency),
    LOG_LEVEL: 'info',
    // No upstream rate limit (its default is conservative) unless a phase sets one: the plain loop has none.
    UPSTREAM_RATE_LIMIT: '0',
    ...(target.nodeOptions ? { NODE_OPTIONS: target.nodeOptions } : {}),
    ...extra,
  };
}

/**
 * The daemon with V8's own heap sizing instead of its lean settings
 * (src/shared/heap.ts), for the side-by-side cost of those settings.
 */
export const V8_HEAP_ENV: Record<string, string> = { MEMORY_HEAP_GROWTH: '0', MEMORY_SEMI_SPACE_MB: '0' };

export interface OnceResult {
  exitCode: number | null;
  keys: number;
  bytes: number;
  /** From the `once finished` line: the warm cycle itself, process start-up excluded. */
  seconds: number;
  /** Spawn to exit, measured from outside: start-up, config, connections included. */
  wallSeconds: number;
  /** CPU time of the process, start-up included (last /proc reading before it exited). */
  cpuSeconds: number;
  /** HTTP attempts the daemon counted. */
  attempts: number;
  /** Requests the simulator received. */
  requests: number;
  /** Most requests the simulator received in any one second. */
  peakRequestsPerSecond: number;
  failed: string[];
  /** The process's output tail, for a failure message. */
  tail: string;
}

export interface OnceOptions {
  extraEnv?: Record<string, string>;
  nodeArgs?: string[];
  timeoutMs: number;
  cleanup: Cleanup;
}

export async function runOnceAll(target: CountedTarget, options: OnceOptions): Promise<OnceResult> {
  target.sim.resetRequests();
  const started = performance.now();
  const child = spawnNode({
    script: CLI,
    args: ['--once', 'all'],
    env: daemonEnv(target, options.extraEnv),
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
    cleanup: options.cleanup,
    name: 'cache-warmer --once all',
  });
  const cpu = trackCpu(child.pid);
  let exitCode: number | null;
  try {
    exitCode = await waitForExit(child, options.timeoutMs, 'cache-warmer --once all');
  } finally {
    cpu.stop();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const line = [...child.logs].reverse().find((l) => typeof l.msg === 'string' && l.msg.startsWith('once finished'));
  const requests = target.sim.count();
  const peakRequestsPerSecond = maxInWindow(
    target.sim.requests.map((r) => r.at),
    1000,
  );
  target.sim.resetRequests();
  return {
    exitCode,
    keys: Number(line?.keys ?? 0),
    bytes: Number(line?.bytes ?? 0),
    seconds: Number(line?.seconds ?? Number.NaN),
    wallSeconds,
    cpuSeconds: cpu.seconds(),
    attempts: Number(line?.requests ?? 0),
    requests,
    peakRequestsPerSecond,
    failed: Array.isArray(line?.failed) ? (line.failed as string[]) : [],
    tail: child.tail().slice(-3000),
  };
}

/** Fails loudly when a warm cycle did not finish cleanly: its numbers would mean nothing. */
export function assertClean(result: OnceResult, what: string): void {
  if (result.exitCode !== 0 || !Number.isFinite(result.seconds)) {
    throw new Error(`${what}: cache-warmer --once all exited ${result.exitCode}${result.failed.length ? ` (failed: ${result.failed.join(', ')})` : ''}:\n${result.tail}`);
  }
}

export type RateLimitOutcome =
  | { supported: false; reason: string }
  | {
      supported: true;
      rate: number;
      requests: number;
      idealSeconds: number;
      /** The warm cycle's own time (`once finished`). */
      seconds: number;
      wallSeconds: number;
      peakRequestsPerSecond: number;
      timedOut: boolean;
      keys: number;
    };

/**
 * Whether the configuration schema knows `upstream.rateLimit` from
 * `UPSTREAM_RATE_LIMIT`. Convict ignores environment variables it does not
 * know, so an unsupported setting would not be rejected: it would silently
 * measure an unlimited run. Asking the schema tells the two apart.
 */
export async function rateLimitSetting(): Promise<{ supported: boolean; reason: string }> {
  const schemaModule = (await import('../config/schema.js')) as { buildSchema?: (jobNames: readonly string[]) => unknown };
  const schema = schemaModule.buildSchema?.([]) as { upstream?: Record<string, { env?: string }> } | undefined;
  const entry = Object.entries(schema?.upstream ?? {}).find(([, setting]) => setting?.env === 'UPSTREAM_RATE_LIMIT');
  if (!entry) return { supported: false, reason: 'the configuration schema has no setting read from UPSTREAM_RATE_LIMIT' };
  return { supported: true, reason: `upstream.${entry[0]}` };
}

/** `--once all` with `UPSTREAM_RATE_LIMIT=rate`: measured time against the ideal `requests / rate`. */
export async function runRateLimited(target: CountedTarget, rate: number, expectedRequests: number, cleanup: Cleanup): Promise<RateLimitOutcome> {
  const setting = await rateLimitSetting();
  if (!setting.supported) return { supported: false, reason: setting.reason };
  // Bounded: twice the ideal time plus start-up slack; a slower run is reported as timed out.
  const timeoutMs = Math.ceil((2 * expectedRequests) / rate) * 1000 + 30_000;
  let result: OnceResult;
  let timedOut = false;
  try {
    result = await runOnceAll(target, { extraEnv: { UPSTREAM_RATE_LIMIT: String(rate) }, timeoutMs, cleanup });
  } catch (error) {
    if (!/did not finish within/.test((error as Error).message)) throw error;
    timedOut = true;
    result = {
      exitCode: null,
      keys: 0,
      bytes: 0,
      seconds: timeoutMs / 1000,
      wallSeconds: timeoutMs / 1000,
      cpuSeconds: Number.NaN,
      attempts: 0,
      requests: target.sim.count(),
      peakRequestsPerSecond: maxInWindow(target.sim.requests.map((r) => r.at), 1000),
      failed: [],
      tail: '',
    };
    target.sim.resetRequests();
  }
  if (!timedOut && result.exitCode === 3) {
    return { supported: false, reason: `the daemon rejected UPSTREAM_RATE_LIMIT=${rate}: ${result.tail.trim().split('\n').pop()}` };
  }
  if (!timedOut) assertClean(result, `rate limit ${rate}/s`);
  // Ideal for the requests the run made (or, when cut off, the full cycle's).
  const requests = timedOut ? expectedRequests : result.requests;
  return {
    supported: true,
    rate,
    requests,
    idealSeconds: requests / rate,
    seconds: result.seconds,
    wallSeconds: result.wallSeconds,
    peakRequestsPerSecond: result.peakRequestsPerSecond,
    timedOut,
    keys: result.keys,
  };
}
