/**
 * Shared by the Redis Cluster and Sentinel end-to-end tests
 * (test/e2e/topology-*.test.ts): the fleet's cadences, the contract check of
 * every warmed key (reusing process-fault.ts's checkCacheKeys and the
 * reader's per-family checks), freshness and status-store probes that work
 * on a Cluster client as well as on a single connection, the BullMQ
 * schedulers as a Queue sees them, and bounded runs of the built CLI.
 *
 * Key names come from the daemon's own builders (the reader's key templates,
 * internalKeys, queuePrefix of a Config loaded by the real loader), so the
 * tests follow the implementation's hash tags instead of hard-coding them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { loadConfig } from '../../config/load.js';
import { internalKeys } from '../../src/cache/keys.js';
import { FAMILIES, parseValue, type FamilyName } from '../../src/reader/families.js';
import { queuePrefix, QUEUE_NAME } from '../../src/runtime.js';
import { spawnCli, type DaemonProcess, type LogLine } from './daemon.js';
import { checkCacheKeys } from './process-fault.js';
import type { Simulator } from './simulator/server.js';

/** Every job of jobs/, as the status store and the schedulers name them. */
export const JOB_NAMES = ['daily-stats', 'leaderboards', 'project-stats', 'projects-list', 'topics'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** One scheduler per job, plus daily-stats' midnight extra (its job file's `alsoAt`). */
export const EXPECTED_SCHEDULERS = ['daily-stats', 'daily-stats@alsoAt', 'leaderboards', 'project-stats', 'projects-list', 'topics'];

/** The topics cadence below: the "one cadence" of the freshness bound. */
export const TOPICS_EVERY_MS = 2_000;
/** The longest cadence below: every job runs again within this (plus a run) after any moment. */
export const LONGEST_EVERY_MS = 10_000;

/**
 * Second-scale cadences so that a failover is followed by runs of every job
 * within the test: topics every 2 s, the per-project jobs every 5–10 s, the
 * projects list every 10 s. TTLs stay the job files' (minutes to hours): no
 * key expires during a test, so "every contract key exists" is not a race.
 */
export const FAST_CADENCES = {
  jobs: {
    'projects-list': { every: '10s' },
    'project-stats': { every: '5s' },
    leaderboards: { every: '10s' },
    'daily-stats': { every: '5s' },
    topics: { every: `${TOPICS_EVERY_MS}ms` },
  },
};

/**
 * The replicas' environment besides Redis and the upstream: second-scale
 * stalled-job recovery (a job whose lock lived on the killed master is taken
 * over quickly), a watchdog that re-checks schedulers every second, and
 * bounded upstream calls. UPSTREAM_RATE_LIMIT 0 and HTTP_PORT 0 come from spawnCli.
 */
export const REPLICA_ENV: Record<string, string> = {
  WORKER_LOCK_DURATION: '5s',
  WORKER_STALLED_INTERVAL: '2s',
  WATCHDOG_INTERVAL: '1s',
  SHUTDOWN_GRACE: '5s',
  UPSTREAM_TIMEOUT: '2s',
  UPSTREAM_DEADLINE: '4s',
  UPSTREAM_RETRIES: '1',
  // Per process, shared by the two jobs a worker runs at once: 2 × 8, as when each run had its own 8.
  // Fewer slow every run, and after a failover the backlog of runs and batches takes longer to clear.
  UPSTREAM_CONCURRENCY: '16',
  LOG_LEVEL: 'info',
};

/** Ids of the projects the simulator lists in scope ongoing: the ones that get per-project keys. */
export const ongoingIds = (sim: Simulator): string[] => sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);

/** Every key the contract promises for the ongoing scope, built with the reader's key templates. */
export function contractKeys(prefix: string, ids: readonly string[]): string[] {
  const keys = [FAMILIES.projectsList.key.build(prefix, { scope: 'ongoing' })];
  for (const id of ids) {
    keys.push(
      FAMILIES.projectInfo.key.build(prefix, { id }),
      FAMILIES.projectStats.key.build(prefix, { id }),
      FAMILIES.leaderboard.key.build(prefix, { id, type: 'continuous' }),
      FAMILIES.leaderboard.key.build(prefix, { id, type: 'accumulated' }),
      FAMILIES.dailyStats.key.build(prefix, { id }),
      FAMILIES.topics.key.build(prefix, { id }),
    );
  }
  return keys;
}

export const topicsKeys = (prefix: string, ids: readonly string[]): string[] => ids.map((id) => FAMILIES.topics.key.build(prefix, { id }));

/** The family of a warmed key and its parameters, or undefined for a key no family describes. */
function familyOf(prefix: string, key: string): { family: FamilyName; params: Record<string, string> } | undefined {
  const rest = key.startsWith(`${prefix}:`) ? key.slice(prefix.length + 1) : undefined;
  if (rest === undefined) return undefined;
  let m: RegExpExecArray | null;
  if ((m = /^projects:list:(ongoing|closed|over)$/.exec(rest))) return { family: 'projectsList', params: { scope: m[1]! } };
  if ((m = /^project:(\d+):info$/.exec(rest))) return { family: 'projectInfo', params: { id: m[1]! } };
  if ((m = /^project:(\d+):stats$/.exec(rest))) return { family: 'projectStats', params: { id: m[1]! } };
  if ((m = /^project:(\d+):leaderboard:(continuous|accumulated)$/.exec(rest))) return { family: 'leaderboard', params: { id: m[1]!, type: m[2]! } };
  if ((m = /^project:(\d+):daily_stats$/.exec(rest))) return { family: 'dailyStats', params: { id: m[1]! } };
  if ((m = /^project:(\d+):topics$/.exec(rest))) return { family: 'topics', params: { id: m[1]! } };
  return undefined;
}

export interface ContractCheck {
  /** Contract keys found on each server (a cluster's masters, or the one master), in the order given. */
  perServer: string[][];
  /** cached_at (ms) of every key found. */
  cachedAt: Map<string, number>;
  /** Keys that break the contract: checkCacheKeys' problems, then the reader's family checks (ids as decimal strings, the value matches its key). */
  problems: string[];
}

/**
 * Checks every key under the prefix on each server, where it lives: a
 * cluster master answers TYPE and GET for the keys its own SCAN finds, so
 * checkCacheKeys (written for one server) runs unchanged on each master.
 * Internal keys (`{prefix}…` with hash tags, or `prefix:status:`/`prefix:bull:`)
 * are left out by it.
 */
export async function checkContract(servers: readonly Redis[], prefix: string): Promise<ContractCheck> {
  const perServer: string[][] = [];
  const cachedAt = new Map<string, number>();
  const problems: string[] = [];
  for (const server of servers) {
    const { values, problems: found } = await checkCacheKeys(server, prefix);
    problems.push(...found);
    perServer.push([...values.keys()].sort());
    for (const [key, value] of values) {
      cachedAt.set(key, Date.parse(value.cached_at));
      const family = familyOf(prefix, key);
      if (!family) {
        problems.push(`${key}: no contract family has this key`);
        continue;
      }
      try {
        parseValue(family.family, JSON.stringify(value), family.params, (problem) => {
          throw new Error(problem);
        });
      } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
      }
    }
  }
  return { perServer, cachedAt, problems };
}

/** GET of each key (one command per key: a cluster spreads them over slots, so no MGET); null for a missing key. */
export async function getEach(client: Redis | Cluster, keys: readonly string[]): Promise<Array<string | null>> {
  return Promise.all(keys.map((key) => client.get(key)));
}

/**
 * Polls until every key holds a value whose cached_at is later than `since`
 * (epoch ms); Redis errors during a failover are retried. Resolves with the
 * moment (epoch ms) it saw them all fresh. The error names how many were stale.
 */
export async function waitAllFresh(client: Redis | Cluster, keys: readonly string[], since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no reply yet';
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / 100) + 2; attempt += 1) {
    try {
      const values = await getEach(client, keys);
      const stale = keys.filter((_, i) => {
        const text = values[i];
        if (text === null || text === undefined) return true;
        return !(Date.parse((JSON.parse(text) as { cached_at: string }).cached_at) > since);
      });
      if (stale.length === 0) return Date.now();
      last = `${stale.length} of ${keys.length} keys missing or cached before ${new Date(since).toISOString()}, e.g. ${stale[0]}`;
    } catch (error) {
      last = `redis: ${(error as Error).message}`;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`keys not fresh within ${timeoutMs} ms: ${last}`);
}

export interface JobRuns {
  runs: number;
  failures: number;
  /** Epoch ms; 0 before any success. */
  lastSuccessAt: number;
}

/** Each job's counters from the status store, read with its own key builder. */
export async function statusOf(client: Redis | Cluster, prefix: string): Promise<Record<JobName, JobRuns>> {
  const out = {} as Record<JobName, JobRuns>;
  for (const job of JOB_NAMES) {
    const hash = await client.hgetall(internalKeys.status(prefix, job));
    out[job] = { runs: Number(hash.runs ?? 0), failures: Number(hash.failures ?? 0), lastSuccessAt: Number(hash.lastSuccessAt ?? 0) };
  }
  return out;
}

/** Polls the status store until `done` holds for every job; Redis errors are retried. */
export async function waitForStatus(
  client: Redis | Cluster,
  prefix: string,
  done: (job: JobName, now: JobRuns) => boolean,
  timeoutMs: number,
  what: string,
): Promise<Record<JobName, JobRuns>> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no reply yet';
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / 200) + 2; attempt += 1) {
    try {
      const now = await statusOf(client, prefix);
      const waiting = JOB_NAMES.filter((job) => !done(job, now[job]));
      if (waiting.length === 0) return now;
      last = `still waiting for ${waiting.map((job) => `${job} ${JSON.stringify(now[job])}`).join(', ')}`;
    } catch (error) {
      last = `redis: ${(error as Error).message}`;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last}`);
}

/**
 * The Config the daemons load from `env` (the real loader, so that
 * queuePrefix follows the topology if it depends on it). No upstream needed.
 */
export function configFor(env: Record<string, string>) {
  return loadConfig({ env, jobNames: JOB_NAMES, requireUpstream: false });
}

/** BullMQ's prefix for the daemons started with `env`, from the daemon's own builder. */
export function queuePrefixFor(env: Record<string, string>): string {
  return queuePrefix(configFor(env));
}

/** A key of the daemons' BullMQ queue: `<queue prefix>:cache-warmer:<suffix>`. */
export const queueKey = (bullPrefix: string, suffix: string): string => `${bullPrefix}:${QUEUE_NAME}:${suffix}`;

/**
 * The scheduler ids the queue holds, sorted, as a BullMQ Queue on `connection`
 * reads them (a Cluster connection needs the hash-tagged prefix). Retried
 * while Redis fails over.
 */
export async function schedulerIds(connection: Redis | Cluster, bullPrefix: string, timeoutMs = 10_000): Promise<string[]> {
  const queue = new Queue(QUEUE_NAME, { connection, prefix: bullPrefix });
  queue.on('error', () => undefined); // failovers: asserted through the calls below
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const schedulers = await queue.getJobSchedulers(0, -1, true);
        return schedulers.map((s) => s.key).sort();
      } catch (error) {
        if (Date.now() >= deadline) throw new Error(`getJobSchedulers failed for ${timeoutMs} ms: ${(error as Error).message}`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    // BullMQ does not close a connection it was given.
    await queue.close().catch(() => undefined);
  }
}

export interface CliRun {
  code: number | null | 'timeout';
  output: string;
}

/** Runs the built CLI to its end, bounded; a process still running then is killed by PID. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000, track?: DaemonProcess[]): Promise<CliRun> {
  const run = spawnCli(args, env);
  track?.push(run);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([run.exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  if (code === 'timeout') await run.stop('SIGKILL');
  return { code, output: run.output() };
}

/** Stops every process by PID (SIGTERM, SIGKILL after a bound); never throws. */
export async function stopAll(processes: readonly DaemonProcess[], timeoutMs = 10_000): Promise<void> {
  await Promise.all(processes.map((p) => p.stop('SIGTERM', timeoutMs).catch(() => undefined)));
}

/** A temporary directory for config files; `remove()` deletes it. */
export function tempDir(): { path: string; write(name: string, content: unknown): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'cw-topology-'));
  return {
    path,
    write(name, content) {
      const file = join(path, name);
      writeFileSync(file, JSON.stringify(content));
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Logs a measured time with a label the lead can grep for and quote. */
export function report(what: string, figures: Record<string, number | string>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? `${Math.round(v)}ms` : v}`)
    .join(' ');
  console.log(`[topology] ${what}: ${text}`);
}

/**
 * What the replicas logged from `since` (epoch ms) on, one line each, for a
 * failure message: warnings and errors, and refreshes done or failed.
 */
export function timeline(replicas: readonly DaemonProcess[], since: number, limit = 40): string {
  const lines: Array<{ at: number; text: string }> = [];
  replicas.forEach((replica, i) => {
    for (const line of replica.logs) {
      const at = timeOf(line);
      if (!(at >= since)) continue;
      const interesting = (line.level ?? 0) >= 40 || /^refresh|^job |stalled|reconnect|ready|schedulers/.test(String(line.msg ?? ''));
      if (!interesting) continue;
      const err = (line.err as { message?: string } | undefined)?.message;
      const detail = [line.job, line.connection, err].filter(Boolean).join(' ');
      lines.push({ at, text: `+${at - since}ms replica ${i + 1}: ${line.msg}${detail ? ` (${String(detail).slice(0, 160)})` : ''}` });
    }
  });
  lines.sort((a, b) => a.at - b.at);
  const shown = lines.slice(0, limit).map((l) => l.text);
  return [...shown, ...(lines.length > limit ? [`… ${lines.length - limit} more`] : [])].join('\n');
}

/** Epoch ms of a log line (pino writes ISO times here); NaN when it has none. */
function timeOf(line: LogLine): number {
  return typeof line.time === 'number' ? line.time : Date.parse(String(line.time ?? ''));
}

/**
 * Per replica, how many times its watchdog failed to reach Redis from `since`
 * (epoch ms) on: a replica still failing seconds after a failover has not
 * reconnected, whatever the others do.
 */
export function watchdogFailuresSince(replicas: readonly DaemonProcess[], since: number): number[] {
  return replicas.map((replica) => replica.logs.filter((line) => String(line.msg ?? '').startsWith('watchdog check failed') && timeOf(line) >= since).length);
}
