/**
 * One integration test's world: a random key prefix, a private upstream
 * simulator, a Config loaded through the real loader, the jobs of jobs/, a
 * Runtime, and a cleanup that closes everything the test opened, drops the
 * prefix's keys and fails the test if one of *its* Redis connections is still
 * open. Other test files run in other processes against the same redis-server,
 * so the leak check only counts connections this harness can name: the
 * runtime's cache connection (by CLIENT ID) and the connections it handed out
 * (named after the prefix, a name BullMQ's duplicates inherit).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { afterEach } from 'vitest';
import { loadConfig, type Config } from '../../config/load.js';
import { loadJobs } from '../../src/definition/load.js';
import type { JobPlan, ParsedJob } from '../../src/definition/parse.js';
import { createRuntime, planJobs, type Runtime } from '../../src/runtime.js';
import { createLogger } from '../../src/shared/logger.js';
import { closeRedis, connectServer } from '../../src/shared/redis.js';
import type { RunRecord } from '../../src/status/store.js';
import { runJob, type RunResult } from '../../src/worker/run-job.js';
import { dropPrefix, keysUnder, newPrefix, redisUrl, testRedis } from './redis.js';
import { startSimulator, type Simulator, type SimulatorOptions } from './simulator/server.js';

export interface HarnessOptions {
  /** Check-in projects in the simulated group. @defaultValue 12 */
  projects?: number;
  /** Anything else for the simulator (its token and group id are the harness's). */
  simulator?: Omit<SimulatorOptions, 'projects' | 'token' | 'groupId'>;
  /** Extra environment for loadConfig, e.g. `{ PROJECT_SCOPES: 'ongoing,closed' }`. */
  env?: Record<string, string>;
  /** A config file's content (written to a temporary file for loadConfig). */
  file?: Record<string, unknown>;
  /** Level of the collecting logger. @defaultValue 'debug' */
  logLevel?: string;
}

export interface Harness {
  readonly prefix: string;
  readonly token: string;
  readonly groupId: string;
  readonly sim: Simulator;
  readonly config: Config;
  readonly jobs: readonly ParsedJob[];
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** Every log line written so far, as written (already scrubbed by the logger). */
  readonly logs: string[];
  /** A plain client for assertions; not counted by the leak check. */
  readonly redis: Redis;
  /** The runtime's plan of a job; throws for an unknown name. */
  plan(name: string): JobPlan;
  /** One refresh of a job, as `--once` runs it. */
  run(name: string, trigger?: RunRecord['trigger']): Promise<RunResult>;
  /** A config loaded like this harness's, with another file and extra environment. */
  reconfigure(file?: Record<string, unknown>, env?: Record<string, string>): Config;
  /** The plans of another config (see reconfigure). */
  plansOf(config: Config): Map<string, JobPlan>;
  /** `{prefix}:a:b`. */
  key(...parts: string[]): string;
  /** Warmed keys under the prefix: without the status store's and BullMQ's keys. */
  cacheKeys(): Promise<string[]>;
  /** The parsed value of a key, undefined when missing. */
  json(key: string): Promise<any>;
  /** A new ioredis connection, closed by cleanup() and checked for leaks. */
  connect(purpose?: 'queue' | 'cache'): Redis;
  /** Registers something to close at cleanup (a BullMQ Worker or Queue), closed last-in first-out. */
  track<T extends { close(): Promise<unknown> }>(closeable: T): T;
  cleanup(): Promise<void>;
}

let jobsLoaded: Promise<ParsedJob[]> | undefined;

/** A token of the real shape: `8D0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C`. */
function newToken(): string {
  return `${randomUUID().toUpperCase()}_${randomBytes(8).toString('hex').toUpperCase()}`;
}

function loadWithFile(jobNames: readonly string[], env: Record<string, string>, file: Record<string, unknown> | undefined): Config {
  if (file === undefined) return loadConfig({ jobNames, env });
  const dir = mkdtempSync(join(tmpdir(), 'cw-config-'));
  try {
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(file));
    return loadConfig({ jobNames, env, file: path });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const prefix = newPrefix();
  const token = newToken();
  const groupId = '15555411412112';
  const url = redisUrl();
  const jobs = await (jobsLoaded ??= loadJobs());
  const jobNames = jobs.map((j) => j.name);
  const baseEnv: Record<string, string> = {
    REDIS_URL: url,
    CACHE_PREFIX: prefix,
    UPSTREAM_TOKEN: token,
    UPSTREAM_GROUP_ID: groupId,
    UPSTREAM_TIMEOUT: '5s',
    // No upstream rate limit unless a test sets one: the simulator is not the real upstream.
    UPSTREAM_RATE_LIMIT: '0',
    // Any free port: parallel test daemons would all want 9464.
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
  };

  const sim = await startSimulator({ ...options.simulator, projects: options.projects ?? 12, token, groupId });
  const env = { ...baseEnv, UPSTREAM_BASE_URL: sim.url, ...options.env };
  let config: Config;
  try {
    config = loadWithFile(jobNames, env, options.file);
  } catch (error) {
    await sim.close();
    throw error;
  }

  const logs: string[] = [];
  const logger = createLogger(options.logLevel ?? 'debug', { write: (line: string) => void logs.push(line) });
  const admin = testRedis();
  const runtime = createRuntime(jobs, config, logger);
  const ownIds = new Set<string>();
  const clients: Redis[] = [];
  const closeables: { close(): Promise<unknown> }[] = [];
  try {
    ownIds.add(String(await runtime.cacheRedis.client('ID')));
  } catch (error) {
    await Promise.all([runtime.close(), sim.close(), closeRedis(admin)]);
    throw error;
  }

  /** Our connections the server still lists: polled briefly, since QUIT's reply can precede the close. */
  async function openConnections(): Promise<string[]> {
    const deadline = Date.now() + 2_000;
    for (let attempt = 0; ; attempt += 1) {
      const list = String(await admin.client('LIST'));
      const ours = list.split('\n').filter((line) => {
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        const name = /(?:^|\s)name=(\S*)/.exec(line)?.[1] ?? '';
        return (id !== undefined && ownIds.has(id)) || name.includes(prefix);
      });
      if (ours.length === 0 || attempt >= 80 || Date.now() > deadline) return ours;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  const harness: Harness = {
    prefix,
    token,
    groupId,
    sim,
    config,
    jobs,
    runtime,
    logger,
    logs,
    redis: admin,
    plan(name) {
      const plan = runtime.plans.get(name);
      if (!plan) throw new Error(`harness: no job "${name}" (jobs: ${jobNames.join(', ')})`);
      return plan;
    },
    run(name, trigger = 'once') {
      return runJob(harness.plan(name), runtime.run, trigger);
    },
    reconfigure(file, extraEnv = {}) {
      return loadWithFile(jobNames, { ...env, ...extraEnv }, file);
    },
    plansOf(other) {
      return planJobs(jobs, other);
    },
    key(...parts) {
      return [prefix, ...parts].join(':');
    },
    async cacheKeys() {
      const all = await keysUnder(admin, prefix);
      return all.filter((k) => !k.startsWith(`{${prefix}}:status:`) && !k.startsWith(`{${prefix}}:bull:`));
    },
    async json(key) {
      const text = await admin.get(key);
      return text === null ? undefined : JSON.parse(text);
    },
    connect(purpose = 'queue') {
      // Named after the prefix so that the leak check finds it (and BullMQ's duplicates of it).
      const client = connectServer(url, purpose, { connectionName: `cache-warmer:${purpose}:${prefix}` });
      client.on('error', (error) => logger.warn({ err: error }, 'test connection error'));
      clients.push(client);
      return client;
    },
    track(closeable) {
      closeables.push(closeable);
      return closeable;
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
      for (const closeable of closeables.splice(0).reverse()) await attempt(() => closeable.close());
      for (const client of clients) await attempt(() => closeRedis(client));
      await attempt(() => runtime.close());
      await attempt(() => sim.close());
      await attempt(() => dropPrefix(admin, prefix));
      await attempt(async () => {
        // QUIT resolves on the server's reply; the socket's close (status 'end') follows a moment later.
        const mine = [runtime.cacheRedis, ...clients];
        const ended = await waitFor('our connections to end', () => (mine.every((c) => c.status === 'end') ? true : undefined), {
          timeoutMs: 2_000,
          intervalMs: 10,
        }).catch(() => false);
        if (!ended) {
          const open = mine.filter((c) => c.status !== 'end').map((c) => `${(c.options as { connectionName?: string }).connectionName} (${c.status})`);
          throw new Error(`connections not closed by the test: ${open.join(', ')}`);
        }
        const open = await openConnections();
        if (open.length) throw new Error(`redis still lists ${open.length} connection(s) of this test:\n${open.join('\n')}`);
      });
      await closeRedis(admin);
      if (problems.length === 1) throw problems[0];
      if (problems.length > 1) throw new AggregateError(problems, `harness cleanup: ${problems.length} problems`);
    },
  };
  return harness;
}

/**
 * Registers an afterEach that cleans up every harness made during the test,
 * and returns the factory; call at the top of a test file or describe block.
 */
export function harnessPerTest(defaults: HarnessOptions = {}): (options?: HarnessOptions) => Promise<Harness> {
  const open: Harness[] = [];
  afterEach(async () => {
    const results = await Promise.allSettled(open.splice(0).map((h) => h.cleanup()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) throw failed[0]!.reason;
  });
  return async (options = {}) => {
    const harness = await createHarness({ ...defaults, ...options, env: { ...defaults.env, ...options.env } });
    open.push(harness);
    return harness;
  };
}

/** Polls `probe` until it returns a value other than undefined; bounded by time and by count. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 5_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Resolves once Date.now() has moved past `since`, so that a new run gets a different cached_at. */
export async function nextMillisecond(since = Date.now()): Promise<void> {
  await waitFor('the clock to tick', () => (Date.now() > since ? true : undefined), { timeoutMs: 100, intervalMs: 1 });
}
