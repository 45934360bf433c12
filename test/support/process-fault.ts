/**
 * The world of one process-level fault test: daemons and one-off commands run
 * as child processes of the built CLI, a private upstream simulator, a key
 * prefix on the run's shared redis-server (or on a private one the test
 * owns), and a temporary directory for config and token files. Every process
 * a world starts is stopped by PID in cleanup(), whether the test passed or
 * not; then its keys are dropped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { spawnCli, type DaemonProcess, type LogLine } from './daemon.js';
import { dropPrefix, keysUnder, newPrefix } from './redis.js';
import { startSimulator, type Simulator, type SimulatorOptions } from './simulator/server.js';

/** The BullMQ queue's keys live under `{prefix}:bull:cache-warmer:`. */
export const QUEUE = 'cache-warmer';

export interface CliResult {
  code: number | null | 'timeout';
  output: string;
  logs: LogLine[];
}

export interface ProcessWorld {
  readonly prefix: string;
  readonly dir: string;
  /** A plain client for assertions on the Redis the daemons use. */
  readonly redis: Redis;
  readonly sim: Simulator;
  /** Every process started through this world, in start order (also the exited ones). */
  readonly processes: DaemonProcess[];
  /** Writes `{ jobs }` (and anything else) as a --config file and returns its path. */
  writeConfig(content: Record<string, unknown>, name?: string): string;
  /** Starts a child process of the CLI with the world's environment plus `env`. */
  spawn(args: string[], env?: Record<string, string>): DaemonProcess;
  /** Runs a command to its end (bounded): its exit code, raw output and parsed logs. */
  cli(args: string[], env?: Record<string, string>, timeoutMs?: number): Promise<CliResult>;
  /** Every line every process of this world wrote so far, stdout and stderr. */
  outputLines(): string[];
  /** `{prefix}:bull:cache-warmer:{suffix}`. */
  queueKey(suffix: string): string;
  /** Registers something to close at cleanup (a loopback server), after the processes are stopped. */
  defer(close: () => Promise<unknown>): void;
  cleanup(): Promise<void>;
}

export interface WorldOptions {
  simulator?: SimulatorOptions;
  /** Redis for the daemons; the run's shared redis-server by default. */
  redisUrl: string;
  /** The daemons' base environment (REDIS_URL, CACHE_PREFIX, the simulator's URL and group are set here). */
  env?: Record<string, string>;
}

export async function createProcessWorld(options: WorldOptions): Promise<ProcessWorld> {
  const prefix = newPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'cw-process-'));
  const sim = await startSimulator(options.simulator ?? {});
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // a private server stopped at cleanup: expected
  const processes: DaemonProcess[] = [];
  const deferred: Array<() => Promise<unknown>> = [];
  const baseEnv = (): Record<string, string> => ({
    REDIS_URL: options.redisUrl,
    CACHE_PREFIX: prefix,
    UPSTREAM_BASE_URL: sim.url,
    UPSTREAM_GROUP_ID: sim.options.groupId,
    LOG_LEVEL: 'info',
    ...options.env,
  });

  const world: ProcessWorld = {
    prefix,
    dir,
    redis,
    sim,
    processes,
    writeConfig(content, name = 'config.json') {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(content));
      return path;
    },
    spawn(args, env = {}) {
      const child = spawnCli(args, { ...baseEnv(), ...env });
      processes.push(child);
      return child;
    },
    async cli(args, env = {}, timeoutMs = 30_000) {
      const run = world.spawn(args, env);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
      clearTimeout(timer);
      if (code === 'timeout') await run.stop('SIGKILL');
      return { code, output: run.output(), logs: run.logs };
    },
    outputLines: () => processes.flatMap((p) => p.output().split('\n')),
    queueKey: (suffix) => `{${prefix}}:bull:${QUEUE}:${suffix}`,
    defer(close) {
      deferred.push(close);
    },
    async cleanup() {
      const problems: unknown[] = [];
      const attempt = async (step: () => Promise<unknown>) => {
        try {
          await step();
        } catch (error) {
          problems.push(error);
        }
      };
      // By PID (spawnCli's stop), never by name; a process that already exited is left alone.
      await Promise.all(processes.map((p) => attempt(() => p.stop('SIGKILL', 5_000))));
      await attempt(() => sim.close());
      for (const close of deferred.splice(0).reverse()) await attempt(close);
      if (redis.status === 'ready') await attempt(() => dropPrefix(redis, prefix));
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
      if (problems.length) throw problems[0];
    },
  };
  return world;
}

/**
 * Registers an afterEach that stops every process of every world
 * made during the test (passed or failed), and returns the factory.
 */
export function processWorldPerTest(defaults: Omit<WorldOptions, 'redisUrl'> & { redisUrl?: () => string }): (options?: Partial<WorldOptions>) => Promise<ProcessWorld> {
  const open: ProcessWorld[] = [];
  afterEach(async () => {
    const results = await Promise.allSettled(open.splice(0).map((w) => w.cleanup()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  return async (options = {}) => {
    const world = await createProcessWorld({
      ...defaults,
      ...options,
      redisUrl: options.redisUrl ?? defaults.redisUrl!(),
      env: { ...defaults.env, ...options.env },
      simulator: { ...defaults.simulator, ...options.simulator },
    });
    open.push(world);
    return world;
  };
}

export interface KeyCheck {
  /** Warmed keys (strings) that hold a JSON object with a valid `cached_at`. */
  values: Map<string, { cached_at: string; [field: string]: unknown }>;
  /** Keys that break the contract: not JSON, no cached_at, an unexpected type. */
  problems: string[];
}

/**
 * Reads every key under the prefix except the status store's and BullMQ's and
 * checks the cache contract's promise: a value is whole JSON with `cached_at`.
 * The gone-projects hash is the one internal non-string key allowed.
 */
export async function checkCacheKeys(redis: Redis, prefix: string): Promise<KeyCheck> {
  const values: KeyCheck['values'] = new Map();
  const problems: string[] = [];
  const keys = (await keysUnder(redis, prefix)).filter((k) => !k.startsWith(`{${prefix}}:status:`) && !k.startsWith(`{${prefix}}:bull:`));
  for (const key of keys) {
    const type = await redis.type(key);
    if (key === `{${prefix}}:projects:gone`) {
      if (type !== 'hash' && type !== 'none') problems.push(`${key}: type ${type}, expected hash`);
      continue;
    }
    if (type === 'none') continue; // expired between SCAN and TYPE
    if (type !== 'string') {
      problems.push(`${key}: type ${type}, expected string`);
      continue;
    }
    const text = await redis.get(key);
    if (text === null) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      problems.push(`${key}: not JSON: ${text.slice(0, 80)}`);
      continue;
    }
    const cachedAt = (value as { cached_at?: unknown } | null)?.cached_at;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) problems.push(`${key}: not a JSON object`);
    else if (typeof cachedAt !== 'string' || Number.isNaN(Date.parse(cachedAt)) || !cachedAt.endsWith('Z')) problems.push(`${key}: cached_at ${JSON.stringify(cachedAt)}`);
    else values.set(key, value as { cached_at: string });
  }
  return { values, problems };
}

/** Ids and names of the jobs in BullMQ's active list. */
export async function activeJobs(redis: Redis, queueKey: (suffix: string) => string): Promise<Array<{ id: string; name: string }>> {
  const ids = await redis.lrange(queueKey('active'), 0, -1);
  const out: Array<{ id: string; name: string }> = [];
  for (const id of ids) out.push({ id, name: (await redis.hget(queueKey(id), 'name')) ?? '' });
  return out;
}

/** Where a job is now: the first of BullMQ's sets or lists holding its id. */
export async function jobState(redis: Redis, queueKey: (suffix: string) => string, id: string): Promise<string> {
  for (const set of ['delayed', 'completed', 'failed', 'prioritized']) {
    if ((await redis.zscore(queueKey(set), id)) !== null) return set;
  }
  for (const list of ['active', 'wait', 'paused']) {
    if ((await redis.lpos(queueKey(list), id)) !== null) return list;
  }
  return (await redis.exists(queueKey(id))) ? 'unknown' : 'missing';
}

/**
 * Every key of a Redis server with its whole content, one line per element:
 * strings, hashes (BullMQ's job data, failedReason, stacktrace), lists, sets,
 * sorted sets and streams. Bytes are read as latin1, so binary values
 * (msgpacked options) keep every ASCII run a secret could hide in.
 */
export async function dumpRedis(redis: Redis): Promise<{ keys: number; lines: string[]; types: Record<string, number> }> {
  const lines: string[] = [];
  const types: Record<string, number> = {};
  const all: string[] = [];
  let cursor = '0';
  for (let i = 0; i < 100_000; i += 1) {
    const [next, batch] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    all.push(...batch.map((b) => b.toString('latin1')));
    cursor = next.toString();
    if (cursor === '0') break;
  }
  const text = (b: Buffer | string) => (typeof b === 'string' ? b : b.toString('latin1'));
  for (const key of all) {
    const type = await redis.type(key);
    types[type] = (types[type] ?? 0) + 1;
    lines.push(`key ${key} ${type}`);
    switch (type) {
      case 'string':
        lines.push(`${key} = ${text((await redis.getBuffer(key)) ?? '')}`);
        break;
      case 'hash': {
        const fields = await redis.hgetallBuffer(key);
        for (const [field, value] of Object.entries(fields)) lines.push(`${key} ${field} = ${text(value)}`);
        break;
      }
      case 'list':
        for (const item of await redis.lrangeBuffer(key, 0, -1)) lines.push(`${key} [] ${text(item)}`);
        break;
      case 'set':
        for (const item of await redis.smembersBuffer(key)) lines.push(`${key} {} ${text(item)}`);
        break;
      case 'zset': {
        const items = await redis.zrangeBuffer(key, 0, -1, 'WITHSCORES');
        for (let i = 0; i < items.length; i += 2) lines.push(`${key} z ${text(items[i]!)} ${text(items[i + 1]!)}`);
        break;
      }
      case 'stream': {
        const entries = (await redis.xrangeBuffer(key, '-', '+')) as unknown as Array<[Buffer, Buffer[]]>;
        for (const [id, fields] of entries) lines.push(`${key} ${text(id)} ${fields.map(text).join(' ')}`);
        break;
      }
      case 'none':
        break;
      default:
        lines.push(`${key} unhandled type ${type}`);
    }
  }
  return { keys: all.length, lines, types };
}

/** The forms a secret can leak in: as is, URL-encoded, and (when given) a distinctive core of it. */
export function secretForms(secret: string, core?: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), ...(core ? [core] : [])])];
}

/** Lines holding any of the forms, each reported with the form found (never the whole line twice). */
export function leaks(lines: readonly string[], forms: readonly string[]): string[] {
  const found: string[] = [];
  for (const line of lines) {
    for (const form of forms) if (line.includes(form)) found.push(`${form.slice(0, 6)}… in: ${line.slice(0, 300)}`);
  }
  return found;
}

/** Resolves with an exited process's code, or rejects after `timeoutMs`. */
export async function exitWithin(process: DaemonProcess, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      process.exited,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`pid ${process.pid} did not exit within ${timeoutMs} ms:\n${process.output().slice(-2000)}`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Jobs config that enables only the named jobs (projects-list stays: the others fan out over its list). */
export function onlyJobs(jobs: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const all = ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics'];
  return Object.fromEntries(all.map((name) => [name, jobs[name] ?? { enabled: false }]));
}
