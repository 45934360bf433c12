/**
 * The world of one Redis fault test: its own redis-server process(es), an
 * upstream simulator, TCP proxies, a temporary directory and `cache-warmer run`
 * as a child process. Everything is registered as it starts and stopped by PID
 * in afterEach, in reverse order, even when the test failed halfway; a
 * redis-server frozen with SIGSTOP is killed all the same (SIGKILL reaches a
 * stopped process).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, expect } from 'vitest';
import { spawnCli, type DaemonProcess, type LogLine } from './daemon.js';
import { scanAll } from './redis.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { startSimulator, type Simulator } from './simulator/server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** Second-scale cadences: topics every 2 s; the projects list once at start (its 1 h default); the rest off. */
export const FAST_JOBS = {
  topics: { every: '2s', ttl: '20s', emptyTtl: '20s' },
  'project-stats': { enabled: false },
  leaderboards: { enabled: false },
  'daily-stats': { enabled: false },
} as const;

/** The topics cadence above, for the "one cadence" bound. */
export const TOPICS_EVERY_MS = 2_000;
/** WATCHDOG_INTERVAL of every daemon here: how soon lost schedulers are re-registered. */
export const WATCHDOG_MS = 1_000;
/** WATCHDOG_STUCK_AFTER of every daemon here: how soon a stuck worker may be noticed. */
export const STUCK_AFTER_MS = 10_000;
/** A refresh of the simulator's few projects, plus the tests' 100 ms polling. */
export const RUN_SLACK_MS = 2_000;

export interface DaemonOptions {
  /** Environment on top of the world's (REDIS_URL is required: there is no default Redis here). */
  env: Record<string, string>;
  /** The `jobs` section of the --config file. @defaultValue FAST_JOBS */
  jobs?: Record<string, unknown>;
}

export interface FaultWorld {
  readonly prefix: string;
  readonly token: string;
  readonly sim: Simulator;
  /** A temporary directory, removed at cleanup (certificates, ACL files, config). */
  readonly dir: string;
  startRedis(extraArgs?: string[], port?: number): Promise<RedisServer>;
  /**
   * A redis-server with exactly these arguments (after bind, no persistence
   * and a private dir), for set-ups the plain harness cannot probe: a
   * password, ACL users, TLS only. Ready once `probe` answers PING.
   */
  startRedisWith(args: string[], probe: { url: string; options?: RedisOptions }): Promise<{ pid: number }>;
  startProxy(targetPort: number): Promise<TcpProxy>;
  startDaemon(options: DaemonOptions): DaemonProcess;
  /** A client for assertions, closed at cleanup; gives up quickly instead of queueing while Redis is down. */
  client(url: string, options?: RedisOptions): Redis;
  /** Ids of the projects whose topics the daemon warms. */
  projectIds(): string[];
  topicsKey(id: string): string;
  cleanup(): Promise<void>;
}

/** A token of the real shape, different in every test. */
function newToken(): string {
  return `${randomUUID().toUpperCase()}_${randomBytes(8).toString('hex').toUpperCase()}`;
}

export async function createFaultWorld(projects = 5): Promise<FaultWorld> {
  const prefix = `f${randomBytes(5).toString('hex')}`;
  const token = newToken();
  const dir = mkdtempSync(join(tmpdir(), 'cw-fault-'));
  const stops: Array<{ what: string; stop: () => Promise<unknown> }> = [];
  let sim: Simulator;
  try {
    sim = await startSimulator({ projects, token });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  stops.push({ what: 'simulator', stop: () => sim.close() });

  const world: FaultWorld = {
    prefix,
    token,
    sim,
    dir,
    async startRedis(extraArgs = [], port) {
      const server = await startRedisServer(extraArgs, port);
      stops.push({ what: `redis-server pid ${server.pid}`, stop: () => server.stop() });
      return server;
    },
    async startRedisWith(args, probe) {
      const dataDir = join(dir, `redis-${stops.length}`);
      mkdirSync(dataDir);
      const child = spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dataDir, ...args], {
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      stops.push({
        what: `redis-server pid ${child.pid}`,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            process.kill(child.pid!, 'SIGKILL');
            await exited;
          }
        },
      });
      const deadline = Date.now() + 10_000;
      for (let attempt = 0; attempt < 200 && Date.now() < deadline; attempt += 1) {
        if (child.exitCode !== null) throw new Error(`redis-server ${args.join(' ')} exited with ${child.exitCode}`);
        const client = new Redis(probe.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...probe.options });
        client.on('error', () => undefined); // refused while redis starts: retried below
        try {
          await client.connect();
          await client.ping();
          return { pid: child.pid! };
        } catch {
          await sleep(50);
        } finally {
          client.disconnect();
        }
      }
      throw new Error(`redis-server ${args.join(' ')} did not answer within 10 s`);
    },
    async startProxy(targetPort) {
      const proxy = await startTcpProxy(targetPort);
      stops.push({ what: `tcp proxy :${proxy.port}`, stop: () => proxy.close() });
      return proxy;
    },
    startDaemon({ env, jobs = FAST_JOBS }) {
      const file = join(dir, `config-${stops.length}.json`);
      writeFileSync(file, JSON.stringify({ jobs }));
      const daemon = spawnCli(['run', '--config', file], {
        CACHE_PREFIX: prefix,
        UPSTREAM_BASE_URL: sim.url,
        UPSTREAM_TOKEN: token,
        UPSTREAM_GROUP_ID: sim.options.groupId,
        UPSTREAM_RETRIES: '0',
        WATCHDOG_INTERVAL: `${WATCHDOG_MS}ms`,
        WATCHDOG_STUCK_AFTER: `${STUCK_AFTER_MS}ms`,
        WORKER_LOCK_DURATION: '5s',
        WORKER_STALLED_INTERVAL: '5s',
        LOG_LEVEL: 'info',
        ...env,
      });
      // By PID; SIGKILL, since a test may end with the daemon stuck on a frozen Redis.
      stops.push({ what: `daemon pid ${daemon.pid}`, stop: () => daemon.stop('SIGKILL', 5_000) });
      return daemon;
    },
    client(url, options = {}) {
      const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(times * 100, 500), ...options });
      client.on('error', () => undefined); // a killed or frozen server is the point of these tests
      stops.push({ what: 'test client', stop: async () => client.disconnect() });
      return client;
    },
    projectIds() {
      return sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);
    },
    topicsKey(id) {
      return `${prefix}:project:${id}:topics`;
    },
    async cleanup() {
      const problems: string[] = [];
      for (const { what, stop } of stops.splice(0).reverse()) {
        try {
          await stop();
        } catch (error) {
          problems.push(`${what}: ${(error as Error).message}`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
      if (problems.length) throw new Error(`fault world cleanup:\n${problems.join('\n')}`);
    },
  };
  return world;
}

/** Registers an afterEach that tears down every world made in the test; call at the top of a file. */
export function faultWorldPerTest(): (projects?: number) => Promise<FaultWorld> {
  const open: FaultWorld[] = [];
  afterEach(async () => {
    const results = await Promise.allSettled(open.splice(0).map((w) => w.cleanup()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  return async (projects) => {
    const world = await createFaultWorld(projects);
    open.push(world);
    return world;
  };
}

/**
 * Polls until every project's topics key holds a cached_at later than `since`
 * (fresh: fetched after the fault ended); bounded by time and by count.
 * Resolves with the milliseconds from `since`.
 */
export async function waitFresh(world: FaultWorld, redis: Redis, since: number, timeoutMs: number): Promise<number> {
  const ids = world.projectIds();
  const keys = ids.map((id) => world.topicsKey(id));
  const deadline = Date.now() + timeoutMs;
  let last = 'no reply';
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / 100) + 1; attempt += 1) {
    try {
      const values = await redis.mget(...keys);
      const stale = keys.filter((_, i) => {
        const text = values[i];
        return text === null || text === undefined || !(Date.parse((JSON.parse(text) as { cached_at: string }).cached_at) > since);
      });
      if (stale.length === 0) return Date.now() - since;
      last = `${stale.length} of ${keys.length} keys missing or older than the fault's end, e.g. ${stale[0]}`;
    } catch (error) {
      last = `redis: ${(error as Error).message}`;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`keys not fresh within ${timeoutMs} ms of the fault's end: ${last}`);
}

/** Polls until a client named by the daemon (`cache-warmer:*`) is connected to a server; ms from `since`. */
export async function waitReconnected(redis: Redis, since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / 50) + 1; attempt += 1) {
    try {
      const list = String(await redis.client('LIST'));
      if (/ name=cache-warmer:/.test(list)) return Date.now() - since;
    } catch {
      // the server is not answering yet
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the daemon did not reconnect within ${timeoutMs} ms`);
}

/** Every key and value in a server's database 0, as text: for grepping secrets. */
export async function dumpAll(redis: Redis): Promise<string> {
  const parts: string[] = [];
  for (const key of await scanAll(redis)) parts.push(key, await dumpValue(redis, key));
  return parts.join('\n');
}

async function dumpValue(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  switch (type) {
    case 'string':
      return String(await redis.get(key));
    case 'hash':
      return JSON.stringify(await redis.hgetall(key));
    case 'list':
      return JSON.stringify(await redis.lrange(key, 0, -1));
    case 'set':
      return JSON.stringify(await redis.smembers(key));
    case 'zset':
      return JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'));
    case 'stream':
      return JSON.stringify(await redis.xrange(key, '-', '+'));
    default:
      return `(${type})`;
  }
}

/** Prints the figures the issue's closing note asks for with the test output: `[time to fresh] fault: reconnect 420 ms, fresh 530 ms`. */
export function reportTimeToFresh(fault: string, figures: Record<string, number | string>): void {
  const parts = Object.entries(figures).map(([name, value]) => `${name} ${typeof value === 'number' ? `${value} ms` : value}`);
  console.log(`[time to fresh] ${fault}: ${parts.join(', ')}`);
}

/** The daemon survived the fault: still running, no token in its output, and SIGTERM still drains and exits 0. */
export async function expectSurvived(daemon: DaemonProcess, token: string): Promise<void> {
  expect(daemon.child.exitCode, 'the daemon exited during the fault').toBeNull();
  expect(daemon.output().includes(token), 'the upstream token is in the daemon output').toBe(false);
  expect(await daemon.stop('SIGTERM')).toBe(0);
}

/** The daemon's log lines with a given message (or one containing the text). */
export function logsWith(lines: readonly LogLine[], text: string): LogLine[] {
  return lines.filter((l) => typeof l.msg === 'string' && l.msg.includes(text));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/**
 * A throw-away CA and a server certificate for 127.0.0.1 signed by it (EC
 * keys: fast to make), written into `dir` with the openssl CLI.
 */
export function makeTlsFiles(dir: string): TlsFiles {
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=cache-warmer test CA');
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  // Node checks the server's identity against the subjectAltName, not the CN.
  writeFileSync(file('san.cnf'), 'subjectAltName = IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file('server.pem'), '-days', '1', '-extfile', file('san.cnf'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}
