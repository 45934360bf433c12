/**
 * A private Redis Cluster on loopback for tests: `masters` masters with
 * `replicasPerMaster` replicas each, every node a redis-server child process
 * on free 127.0.0.1 ports, joined by `redis-cli --cluster create`. Nodes are
 * killed, restarted and stopped by PID; `stop()` removes the temporary
 * directory that holds the nodes' config files and logs.
 *
 * Also exported: the process plumbing the Sentinel helper (redis-sentinel.ts)
 * shares — spawn a redis-server, wait until it answers, tail its log, stop it
 * by PID (SIGTERM, then SIGKILL after a bound).
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';

// ---------------------------------------------------------------------------
// Process plumbing (shared with redis-sentinel.ts)
// ---------------------------------------------------------------------------

/** How long a stopped process gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** How long a fresh redis-server gets to answer PING. */
const READY_TIMEOUT_MS = 10_000;
/** One admin command against one node: a dead or frozen node must not stall a wait loop. */
const ADMIN_TIMEOUT_MS = 1_000;
const POLL_EVERY_MS = 100;
/** How much of a process's log and stderr an error message carries. */
const LOG_TAIL_CHARS = 3_000;

/** PIDs this module started and that have not exited: killed if the test process exits without cleaning up. */
const live = new Set<number>();
let exitHookInstalled = false;

function trackUntilExit(pid: number, exited: Promise<unknown>): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort when a test worker exits without reaching afterAll (a crash, a
    // forgotten stop()): a leaked cluster would hold 12 ports and 6 processes.
    // 'exit' handlers must be synchronous: SIGKILL, no waiting.
    process.once('exit', () => {
      for (const pid of live) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
  }
  live.add(pid);
  void exited.then(() => live.delete(pid));
}

export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
  /** Where redis-server writes its log (`--logfile`). */
  readonly logFile: string;
  /** Resolves when the process has exited (whatever the reason). */
  readonly exited: Promise<void>;
  running(): boolean;
  /** Sends `signal` by PID and resolves once the process has exited (bounded: SIGKILL after STOP_GRACE_MS). */
  kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** SIGTERM, then SIGKILL after a bound; a no-op once exited. */
  stop(): Promise<void>;
  /** The end of its log file and of its stderr, for error messages. */
  logTail(): string;
}

export interface SpawnRedisOptions {
  /** Names the process in error messages, e.g. `cluster node 127.0.0.1:30001`. */
  label: string;
  /** The port it listens on (also in `args`): where readiness is probed. */
  port: number;
  /** Its `--logfile` (also in `args`): read for error messages. */
  logFile: string;
  /** AUTH for the readiness probe. */
  password?: string;
  /** @defaultValue 10 000 */
  readyTimeoutMs?: number;
}

/** Thrown when a redis-server exits or stays silent during start; `addressInUse` says a retry on other ports may help. */
export class RedisStartError extends Error {
  readonly addressInUse: boolean;
  constructor(message: string, addressInUse: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RedisStartError';
    this.addressInUse = addressInUse;
  }
}

function tailOf(text: string): string {
  return text.length > LOG_TAIL_CHARS ? `…${text.slice(-LOG_TAIL_CHARS)}` : text;
}

/** Starts `redis-server ...args` and resolves once it answers PING on 127.0.0.1:port. */
export async function spawnRedis(args: string[], options: SpawnRedisOptions): Promise<RedisProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-LOG_TAIL_CHARS);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    // spawn failures (redis-server not installed) emit 'error' and no 'exit'.
    child.once('error', (error) => {
      stderr += `\n${error.message}`;
      resolve();
    });
  });
  const pid = child.pid;
  const running = () => child.exitCode === null && child.signalCode === null && pid !== undefined;
  const logTail = () => {
    const log = existsSync(options.logFile) ? readFileSync(options.logFile, 'utf8') : '';
    return [tailOf(log).trimEnd(), stderr.trimEnd()].filter(Boolean).join('\n--- stderr ---\n') || '(no output)';
  };
  const kill = async (signal: 'SIGTERM' | 'SIGKILL') => {
    if (!running()) return;
    process.kill(pid!, signal);
    const timer = setTimeout(() => running() && process.kill(pid!, 'SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  const proc: RedisProcess = {
    port: options.port,
    pid: pid ?? -1,
    logFile: options.logFile,
    exited,
    running,
    kill,
    stop: () => kill('SIGTERM'),
    logTail,
  };
  if (pid !== undefined) trackUntilExit(pid, exited);

  const timeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!running()) {
      const tail = logTail();
      throw new RedisStartError(
        `${options.label}: redis-server exited (code ${child.exitCode}, signal ${child.signalCode}) before answering on 127.0.0.1:${options.port}; its log:\n${tail}`,
        /address already in use/i.test(tail),
      );
    }
    // Raced with the exit: if redis died, whoever holds the port may accept and never answer.
    const answer = await Promise.race([tryAdmin(options.port, options.password, ['PING']), exited]);
    if (answer === 'PONG') return proc;
    await sleep(50);
  }
  await proc.stop();
  throw new RedisStartError(`${options.label}: redis-server did not answer PING on 127.0.0.1:${options.port} within ${timeoutMs} ms; its log:\n${logTail()}`, false);
}

/** `count` distinct free loopback ports, none of them in `taken` (which gains them). */
export async function freePorts(count: number, taken: Set<number>): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; ports.length < count && i < count * 50; i += 1) {
    const port = await freePort();
    if (port > 0 && !taken.has(port)) {
      taken.add(port);
      ports.push(port);
    }
  }
  if (ports.length < count) throw new Error(`freePorts: found ${ports.length} of ${count} free loopback ports`);
  return ports;
}

/**
 * One command on a fresh connection to 127.0.0.1:port, bounded by
 * ADMIN_TIMEOUT_MS. A connection per command: wait loops poll nodes that are
 * being killed and restarted, and a long-lived client would queue or retry.
 */
export async function adminCommand(port: number, password: string | undefined, [command, ...args]: [string, ...Array<string | number>]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    password,
    lazyConnect: true,
    connectTimeout: ADMIN_TIMEOUT_MS,
    commandTimeout: ADMIN_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  client.on('error', () => undefined); // refused or reset: the caller's wait loop retries
  let timer: NodeJS.Timeout | undefined;
  // One bound for connect and command together: a port held by something that is not redis
  // (or a frozen redis) accepts the connection and never answers.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`127.0.0.1:${port} did not answer ${command} within ${ADMIN_TIMEOUT_MS} ms`)), ADMIN_TIMEOUT_MS);
  });
  try {
    return await Promise.race([client.connect().then(() => client.call(command, ...args)), timeout]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** The same command, or undefined when the node does not answer (down, starting, frozen). */
async function tryAdmin(port: number, password: string | undefined, command: [string, ...Array<string | number>]): Promise<unknown> {
  try {
    return await adminCommand(port, password, command);
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns something other than undefined; the error names `what` and the last state seen. */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, lastState: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const state = lastState();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state ? `; last seen: ${state}` : ''}`);
    }
    await sleep(POLL_EVERY_MS);
  }
}

/** `key:value` lines (INFO, CLUSTER INFO) as a map. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}

/** Rejects keys an options object must not have: a typo would otherwise be silently ignored. */
export function rejectUnknownKeys(where: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new TypeError(`${where}: unknown option "${key}" (allowed: ${allowed.join(', ')})`);
  }
}

/**
 * The password goes into a 0600 config file, not argv: argv shows in `ps`
 * and in error messages. Returns the file's path.
 */
export function writePasswordConf(path: string, lines: string[]): string {
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** A config-file string, quoted the way redis's config parser reads it. */
export function confQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// ---------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------

/**
 * 1 s: a node is flagged PFAIL after 1 s of silence, FAIL once a majority of
 * masters agree (gossip, a few hundred ms), and its replica runs the election
 * after 500 ms + up to 500 ms of jitter: a failover in roughly 2–3 s. Lower
 * values buy little (the election delay is fixed) and on a loaded 2-core CI
 * machine a stalled node (fork, GC of the test process, a busy vitest worker)
 * could be failed over spuriously.
 */
const CLUSTER_NODE_TIMEOUT_MS = 1_000;
const TOTAL_SLOTS = 16_384;
const CLUSTER_READY_TIMEOUT_MS = 20_000;
const CLUSTER_CREATE_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 5;

export type ClusterRole = 'master' | 'replica';

export interface ClusterNode {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The cluster bus port (`--cluster-port`): chosen free, not port + 10 000. */
  readonly busPort: number;
  /** The current process's PID (a new one after restartNode). */
  readonly pid: number;
  /** Its role as last seen (after creation, killNode, waitForFailover, restartNode). */
  readonly role: ClusterRole;
  /** False between killNode and restartNode. */
  readonly running: boolean;
}

export interface ClusterOptions {
  /** @defaultValue 3 (redis-cli refuses fewer) */
  masters?: number;
  /** @defaultValue 1 */
  replicasPerMaster?: number;
  /** requirepass and masterauth of every node. @defaultValue none */
  password?: string;
}

export interface FailoverResult {
  /** The replica that took over the dead master's slots. */
  newMasterPort: number;
  /** From killNode of the old master to the moment the wait saw the cluster settled (poll granularity: ~100 ms). */
  sinceKillMs: number;
}

export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** Every node's address: `new Redis.Cluster(startupNodes)`. */
  readonly startupNodes: Array<{ host: '127.0.0.1'; port: number }>;
  readonly password: string | undefined;
  /** The temporary directory with each node's nodes-<port>.conf and redis-<port>.log. */
  readonly dir: string;
  /** Kills one node by PID (SIGKILL by default: a crash) and resolves once it has exited. */
  killNode(port: number, signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts a killed node again with its own nodes.conf; resolves once the cluster has settled with it (a former master rejoins as a replica). */
  restartNode(port: number, timeoutMs?: number): Promise<void>;
  /** Resolves once a replica of the (killed) master at `oldMasterPort` is master and every running node says cluster_state:ok with all slots on live masters. @defaultValue timeoutMs 15 000 */
  waitForFailover(oldMasterPort: number, timeoutMs?: number): Promise<FailoverResult>;
  /** Resolves once every running replica's replication offset equals its master's: what was written is on both. */
  waitForReplication(timeoutMs?: number): Promise<void>;
  /** Master ports serving each slot range, as the first running node sees it. */
  slotOwners(): Promise<Array<{ from: number; to: number; port: number }>>;
  /** Stops every process by PID (SIGTERM, SIGKILL after 5 s) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

interface NodeState {
  host: '127.0.0.1';
  port: number;
  busPort: number;
  /** As last seen by refreshTopology. */
  role: ClusterRole;
  id: string;
  /** The id of its master, for a replica. */
  masterId: string | undefined;
  args: string[];
  logFile: string;
  process: RedisProcess;
}

/** One line of CLUSTER NODES. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  slots: string[];
}

function parseClusterNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(address ?? '')?.[1]);
      return { id: id!, port, flags: (flags ?? '').split(','), masterId: master && master !== '-' ? master : undefined, slots };
    });
}

function checkCount(name: string, value: unknown, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > 10) {
    throw new RangeError(`startRedisCluster: ${name} ${JSON.stringify(value)} is not an integer from ${min} to 10`);
  }
  return value as number;
}

/** The Redis major version of the redis-server on PATH. */
async function redisMajorVersion(): Promise<number> {
  const { stdout } = await run('redis-server', ['--version'], {}, 5_000);
  const version = /v=(\d+)\./.exec(stdout)?.[1];
  if (!version) throw new Error(`startRedisCluster: cannot read the version from "redis-server --version": ${stdout.trim()}`);
  return Number(version);
}

function run(file: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${file} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${tailOf(`${stdout}\n${stderr}`.trim())}`, { cause: error }));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  rejectUnknownKeys('startRedisCluster', options, ['masters', 'replicasPerMaster', 'password']);
  const masters = checkCount('masters', options.masters ?? 3, 3);
  const replicasPerMaster = checkCount('replicasPerMaster', options.replicasPerMaster ?? 1, 0);
  const { password } = options;
  if (password !== undefined && (typeof password !== 'string' || password === '' || /[\r\n]/.test(password))) {
    throw new TypeError('startRedisCluster: password must be a non-empty string without line breaks');
  }
  // --cluster-port (an explicit bus port) came with Redis 7.0; earlier versions would fail with a config error.
  const major = await redisMajorVersion();
  if (major < 7) throw new Error(`startRedisCluster: needs redis-server 7.0 or later (--cluster-port), found ${major}.x`);

  const dir = mkdtempSync(join(tmpdir(), 'cw-cluster-'));
  const taken = new Set<number>();
  const nodes: NodeState[] = [];
  let stopped: Promise<void> | undefined;
  const killedAt = new Map<number, number>();

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(nodes.map((node) => node.process.stop()));
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const nodeArgs = (port: number, busPort: number, logFile: string): string[] => {
    const args: string[] = [];
    if (password !== undefined) {
      // A config file must come first on redis-server's command line.
      args.push(writePasswordConf(join(dir, `auth-${port}.conf`), [`requirepass ${confQuote(password)}`, `masterauth ${confQuote(password)}`]));
    }
    args.push(
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--daemonize', 'no',
      '--dir', dir,
      '--logfile', logFile,
      '--save', '',
      '--appendonly', 'no',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      // The bus port is chosen free like the client port: the default (port + 10 000) may be taken, or above 65 535.
      '--cluster-port', String(busPort),
      '--cluster-node-timeout', String(CLUSTER_NODE_TIMEOUT_MS),
      '--cluster-announce-ip', '127.0.0.1',
      // A replica is always eligible for election, however long ago it last heard its master: a test's
      // failover must not depend on timing (the default factor 10 can refuse it after a long freeze).
      '--cluster-replica-validity-factor', '0',
      // Redis 7 waits 5 s before a diskless full sync to batch replicas: here each master has its own.
      '--repl-diskless-sync-delay', '0',
    );
    return args;
  };

  const startNode = async (): Promise<NodeState> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt += 1) {
      // Both ports probed free; a race with another process between the probe and redis's bind is retried.
      const [port, busPort] = await freePorts(2, taken);
      const logFile = join(dir, `redis-${port!}.log`);
      const args = nodeArgs(port!, busPort!, logFile);
      try {
        const proc = await spawnRedis(args, { label: `startRedisCluster: node 127.0.0.1:${port}`, port: port!, logFile, password });
        return { host: '127.0.0.1', port: port!, busPort: busPort!, role: 'master', id: '', masterId: undefined, args, logFile, process: proc };
      } catch (error) {
        lastError = error;
        if (!(error instanceof RedisStartError && error.addressInUse)) break;
      }
    }
    throw lastError;
  };

  const nodeByPort = (port: number, where: string): NodeState => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new RangeError(`RedisCluster.${where}: no node on port ${port} (nodes: ${nodes.map((n) => n.port).join(', ')})`);
    return node;
  };

  const runningNodes = () => nodes.filter((n) => n.process.running());

  /** Ids, roles and masters from each running node's own `myself` line. */
  const refreshTopology = async (): Promise<void> => {
    await Promise.all(
      runningNodes().map(async (node) => {
        const text = await tryAdmin(node.port, password, ['CLUSTER', 'NODES']);
        if (typeof text !== 'string') return;
        const me = parseClusterNodes(text).find((line) => line.flags.includes('myself'));
        if (!me) return;
        node.id = me.id;
        node.role = me.flags.includes('slave') ? 'replica' : 'master';
        node.masterId = me.masterId;
      }),
    );
  };

  /**
   * What one node believes: its cluster state and, per master that is not
   * failing and serves slots, "port:slots". Settled when every running node
   * says ok, covers every slot with a healthy master, knows every node, and
   * they all describe the same masters.
   */
  let lastSeen = '';
  const settledView = async (): Promise<string | undefined> => {
    const views: string[] = [];
    const seen: string[] = [];
    for (const node of runningNodes()) {
      const info = await tryAdmin(node.port, password, ['CLUSTER', 'INFO']);
      const text = await tryAdmin(node.port, password, ['CLUSTER', 'NODES']);
      if (typeof info !== 'string' || typeof text !== 'string') {
        seen.push(`${node.port}: no answer`);
        continue;
      }
      const fields = parseInfo(info);
      const masters = parseClusterNodes(text)
        .filter((line) => line.flags.includes('master') && !line.flags.some((f) => f === 'fail' || f === 'fail?') && line.slots.length > 0)
        .map((line) => `${line.port}:${line.slots.join(',')}`)
        .sort()
        .join(' ');
      const state = `${fields.get('cluster_state')} slots_ok=${fields.get('cluster_slots_ok')} known=${fields.get('cluster_known_nodes')}`;
      seen.push(`${node.port}: ${state} masters=[${masters}]`);
      if (
        fields.get('cluster_state') === 'ok' &&
        fields.get('cluster_slots_ok') === String(TOTAL_SLOTS) &&
        fields.get('cluster_known_nodes') === String(nodes.length)
      ) {
        views.push(masters);
      }
    }
    lastSeen = seen.join('; ');
    const running = runningNodes().length;
    return views.length === running && running > 0 && views.every((view) => view === views[0]) ? views[0] : undefined;
  };

  /** Every running replica's link to its master is up. */
  const replicasLinked = async (): Promise<true | undefined> => {
    for (const node of runningNodes()) {
      const info = await tryAdmin(node.port, password, ['INFO', 'replication']);
      if (typeof info !== 'string') return undefined;
      const fields = parseInfo(info);
      if (fields.get('role') === 'slave' && fields.get('master_link_status') !== 'up') {
        lastSeen = `${node.port}: master_link_status ${fields.get('master_link_status')}`;
        return undefined;
      }
    }
    return true;
  };

  const waitSettled = async (timeoutMs: number, what: string): Promise<void> => {
    await pollUntil(async () => ((await settledView()) !== undefined && (await replicasLinked()) ? true : undefined), timeoutMs, what, () => lastSeen);
    await refreshTopology();
  };

  try {
    const total = masters * (1 + replicasPerMaster);
    const started = await Promise.allSettled(Array.from({ length: total }, () => startNode()));
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;

    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      // REDISCLI_AUTH rather than -a: no password in argv, and no warning about it on stderr.
      password === undefined ? {} : { REDISCLI_AUTH: password },
      CLUSTER_CREATE_TIMEOUT_MS,
    );
    await waitSettled(CLUSTER_READY_TIMEOUT_MS, `the new cluster (${total} nodes) to report cluster_state:ok everywhere with all ${TOTAL_SLOTS} slots covered`);
  } catch (error) {
    const logs = nodes.map((n) => `--- 127.0.0.1:${n.port} (${n.logFile}) ---\n${n.process.logTail()}`).join('\n');
    await stop();
    throw new Error(`startRedisCluster: the cluster did not come up: ${(error as Error).message}\n${logs}`, { cause: error });
  }

  const handle: RedisCluster = {
    // Live views over the internal state: roles, PIDs and running change as tests kill and restart nodes.
    nodes: nodes.map((node) => ({
      host: node.host,
      port: node.port,
      busPort: node.busPort,
      get pid() {
        return node.process.pid;
      },
      get role() {
        return node.role;
      },
      get running() {
        return node.process.running();
      },
    })),
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1' as const, port: n.port })),
    password,
    dir,

    async killNode(port, signal = 'SIGKILL') {
      const node = nodeByPort(port, 'killNode');
      if (!node.process.running()) throw new Error(`RedisCluster.killNode: node ${port} is not running`);
      // Who replicates whom right now: waitForFailover looks for this node's replicas.
      await refreshTopology();
      killedAt.set(port, performance.now());
      await node.process.kill(signal);
    },

    async restartNode(port, timeoutMs = CLUSTER_READY_TIMEOUT_MS) {
      const node = nodeByPort(port, 'restartNode');
      if (node.process.running()) throw new Error(`RedisCluster.restartNode: node ${port} is still running (kill it first)`);
      if (stopped) throw new Error('RedisCluster.restartNode: the cluster is stopped');
      // Same arguments, same nodes.conf: the node rejoins with its id; a master that was failed over
      // waits 2 s (CLUSTER_WRITABLE_DELAY), learns of the newer epoch and turns replica.
      node.process = await spawnRedis(node.args, { label: `RedisCluster.restartNode: node 127.0.0.1:${port}`, port, logFile: node.logFile, password });
      await waitSettled(timeoutMs, `node ${port} to rejoin and every node to agree on the slots`);
    },

    async waitForFailover(oldMasterPort, timeoutMs = 15_000) {
      const old = nodeByPort(oldMasterPort, 'waitForFailover');
      if (old.role !== 'master') throw new Error(`RedisCluster.waitForFailover: node ${oldMasterPort} was a ${old.role}, not a master`);
      const replicas = nodes.filter((n) => n.masterId === old.id && n.role === 'replica');
      if (replicas.length === 0) throw new Error(`RedisCluster.waitForFailover: master ${oldMasterPort} has no replica to promote`);
      const promoted = await pollUntil(
        async () => {
          let port: number | undefined;
          for (const replica of replicas) {
            if (!replica.process.running()) continue;
            const role = await tryAdmin(replica.port, password, ['ROLE']);
            if (Array.isArray(role) && role[0] === 'master') port = replica.port;
          }
          if (port === undefined) {
            lastSeen = `no replica of ${oldMasterPort} (${replicas.map((r) => r.port).join(', ')}) says ROLE master`;
            return undefined;
          }
          const view = await settledView();
          return view?.split(' ').some((entry) => entry.startsWith(`${port}:`)) ? port : undefined;
        },
        timeoutMs,
        `a replica of master ${oldMasterPort} to take over its slots`,
        () => lastSeen,
      );
      const sinceKillMs = Math.round(performance.now() - (killedAt.get(oldMasterPort) ?? performance.now()));
      await refreshTopology();
      return { newMasterPort: promoted, sinceKillMs };
    },

    async waitForReplication(timeoutMs = 10_000) {
      await refreshTopology();
      await pollUntil(
        async () => {
          for (const replica of runningNodes().filter((n) => n.role === 'replica')) {
            const master = nodes.find((n) => n.id === replica.masterId);
            if (!master?.process.running()) continue;
            const [masterInfo, replicaInfo] = await Promise.all([
              tryAdmin(master.port, password, ['INFO', 'replication']),
              tryAdmin(replica.port, password, ['INFO', 'replication']),
            ]);
            if (typeof masterInfo !== 'string' || typeof replicaInfo !== 'string') return undefined;
            const want = parseInfo(masterInfo).get('master_repl_offset');
            const have = parseInfo(replicaInfo).get('slave_repl_offset');
            if (want === undefined || want !== have) {
              lastSeen = `replica ${replica.port} at offset ${have}, master ${master.port} at ${want}`;
              return undefined;
            }
          }
          return true;
        },
        timeoutMs,
        'every replica to catch up with its master',
        () => lastSeen,
      );
    },

    async slotOwners() {
      const node = runningNodes()[0];
      if (!node) throw new Error('RedisCluster.slotOwners: no node is running');
      const slots = (await adminCommand(node.port, password, ['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number, ...unknown[]]]>;
      return slots.map(([from, to, [, port]]) => ({ from, to, port })).sort((a, b) => a.from - b.from);
    },

    stop,
  };
  return handle;
}
