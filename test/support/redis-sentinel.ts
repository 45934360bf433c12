/**
 * A private Sentinel set on loopback for tests: one master, one replica and
 * three sentinels (quorum 2), every one a redis-server child process on a free
 * 127.0.0.1 port, stopped by PID. Resolves only once every sentinel knows the
 * replica and the two other sentinels, so a failover can start at once.
 *
 * Each sentinel has its own config file in the temporary directory: Sentinel
 * rewrites its file (its id, the discovered replicas and sentinels, the new
 * master after a failover), so the files cannot be shared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adminCommand,
  confQuote,
  freePorts,
  parseInfo,
  pollUntil,
  rejectUnknownKeys,
  RedisStartError,
  spawnRedis,
  writePasswordConf,
  type RedisProcess,
} from './redis-cluster.js';

const SENTINELS = 3;
/** Sentinels that must agree the master is down (objectively down) before one of them fails over. */
const QUORUM = 2;
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 20_000;

export interface SentinelOptions {
  /** The monitored master's name (`name` in ioredis's options). @defaultValue 'cw-master' */
  masterName?: string;
  /** requirepass and masterauth of master and replica; the sentinels get it as `auth-pass`. Sentinels themselves have none. @defaultValue none */
  password?: string;
  /**
   * Silence after which a sentinel flags the master down.
   * @defaultValue 1000
   */
  downAfterMs?: number;
  /**
   * Bounds each step of a failover; a failed leader election is retried after twice this.
   * @defaultValue 5000
   */
  failoverTimeoutMs?: number;
}

export interface SentinelFailover {
  host: '127.0.0.1';
  port: number;
  /** From killMaster to the moment the wait saw a majority of sentinels name the new master (poll granularity ~100 ms). */
  sinceKillMs: number;
}

export interface RedisSentinel {
  readonly masterName: string;
  /** ioredis's `sentinels` option. */
  readonly sentinels: Array<{ host: '127.0.0.1'; port: number }>;
  /** The initial master. */
  readonly master: { port: number; pid: number };
  /** The initial replica (the master after a failover). */
  readonly replica: { port: number; pid: number };
  readonly password: string | undefined;
  readonly dir: string;
  /** Kills the initial master by PID (SIGKILL by default: a crash) and resolves once it has exited. */
  killMaster(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Resolves with the new master once a majority of sentinels name an address other than the killed master's and it answers ROLE master. @defaultValue timeoutMs 20 000 */
  waitForFailover(timeoutMs?: number): Promise<SentinelFailover>;
  /** Stops every process by PID (SIGTERM, SIGKILL after 5 s) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

function checkMs(name: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new RangeError(`startRedisSentinel: ${name} ${JSON.stringify(value)} is not an integer number of milliseconds from ${min} to ${max}`);
  }
  return value as number;
}

/** SENTINEL replicas / sentinels reply: one flat [field, value, …] array per entry. */
function entries(reply: unknown): Array<Map<string, string>> {
  if (!Array.isArray(reply)) return [];
  return reply.map((flat: unknown) => {
    const fields = new Map<string, string>();
    if (Array.isArray(flat)) for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
    return fields;
  });
}

export async function startRedisSentinel(options: SentinelOptions = {}): Promise<RedisSentinel> {
  rejectUnknownKeys('startRedisSentinel', options, ['masterName', 'password', 'downAfterMs', 'failoverTimeoutMs']);
  const masterName = options.masterName ?? 'cw-master';
  if (typeof masterName !== 'string' || !/^[A-Za-z0-9._-]+$/.test(masterName)) {
    throw new TypeError(`startRedisSentinel: masterName ${JSON.stringify(masterName)} must be letters, digits, ".", "_" or "-"`);
  }
  const { password } = options;
  if (password !== undefined && (typeof password !== 'string' || password === '' || /[\r\n]/.test(password))) {
    throw new TypeError('startRedisSentinel: password must be a non-empty string without line breaks');
  }
  const downAfterMs = checkMs('downAfterMs', options.downAfterMs ?? 1_000, 100, 60_000);
  const failoverTimeoutMs = checkMs('failoverTimeoutMs', options.failoverTimeoutMs ?? 5_000, 1_000, 600_000);

  const dir = mkdtempSync(join(tmpdir(), 'cw-sentinel-'));
  const taken = new Set<number>();
  const processes: RedisProcess[] = [];
  let stopped: Promise<void> | undefined;
  let killedAt: number | undefined;
  let lastSeen = '';

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(processes.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  /** Starts one process on a fresh free port; a port taken between the probe and the bind is retried. */
  const start = async (label: string, argsFor: (port: number, logFile: string) => string[], auth: string | undefined): Promise<RedisProcess> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt += 1) {
      const [port] = await freePorts(1, taken);
      const logFile = join(dir, `${label}-${port!}.log`);
      try {
        const proc = await spawnRedis(argsFor(port!, logFile), { label: `startRedisSentinel: ${label} 127.0.0.1:${port}`, port: port!, logFile, password: auth });
        processes.push(proc);
        return proc;
      } catch (error) {
        lastError = error;
        if (!(error instanceof RedisStartError && error.addressInUse)) break;
      }
    }
    throw lastError;
  };

  const dataArgs = (port: number, logFile: string, extra: string[]): string[] => [
    ...(password === undefined
      ? []
      : [writePasswordConf(join(dir, `auth-${port}.conf`), [`requirepass ${confQuote(password)}`, `masterauth ${confQuote(password)}`])]),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--daemonize', 'no',
    '--dir', dir,
    '--logfile', logFile,
    '--save', '',
    '--appendonly', 'no',
    // Redis 7 waits 5 s before a diskless full sync to batch replicas: there is only one.
    '--repl-diskless-sync-delay', '0',
    ...extra,
  ];

  const sentinelConf = (port: number, logFile: string, masterPort: number): string =>
    // 0600 even without a password: Sentinel rewrites this file and needs it writable, nobody else needs it.
    writePasswordConf(join(dir, `sentinel-${port}.conf`), [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      `dir ${confQuote(dir)}`,
      `logfile ${confQuote(logFile)}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${QUORUM}`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
      ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${confQuote(password)}`]),
    ]);

  let master: RedisProcess;
  let replica: RedisProcess;
  let sentinels: RedisProcess[];
  try {
    master = await start('master', (port, logFile) => dataArgs(port, logFile, []), password);
    replica = await start('replica', (port, logFile) => dataArgs(port, logFile, ['--replicaof', '127.0.0.1', String(master.port)]), password);
    // A sentinel learns the replicas from the master's INFO, which it sends when it connects and then only
    // every 10 s: the replica must be listed there before the sentinels start.
    await pollUntil(
      async () => {
        const info = await adminCommand(replica.port, password, ['INFO', 'replication']).catch(() => undefined);
        const status = typeof info === 'string' ? parseInfo(info).get('master_link_status') : undefined;
        lastSeen = `replica master_link_status ${status}`;
        return status === 'up' ? true : undefined;
      },
      READY_TIMEOUT_MS,
      `the replica ${replica.port} to sync with the master ${master.port}`,
      () => lastSeen,
    );
    sentinels = await Promise.all(
      Array.from({ length: SENTINELS }, () => start('sentinel', (port, logFile) => [sentinelConf(port, logFile, master.port), '--sentinel'], undefined)),
    );
    // Other sentinels are found through hello messages on the master (every 2 s): a failover
    // needs QUORUM of them to agree and a majority to elect a leader.
    await pollUntil(
      async () => {
        const seen: string[] = [];
        let ready = true;
        for (const sentinel of sentinels) {
          const [replicas, peers, quorum] = await Promise.all([
            adminCommand(sentinel.port, undefined, ['SENTINEL', 'REPLICAS', masterName]).catch(() => undefined),
            adminCommand(sentinel.port, undefined, ['SENTINEL', 'SENTINELS', masterName]).catch(() => undefined),
            adminCommand(sentinel.port, undefined, ['SENTINEL', 'CKQUORUM', masterName]).catch((error: Error) => error.message),
          ]);
          const known = entries(replicas).find((r) => r.get('port') === String(replica.port));
          const replicaOk = known !== undefined && known.get('master-link-status') === 'ok' && !/s_down|disconnected/.test(known.get('flags') ?? '');
          const peerCount = entries(peers).length;
          const quorumOk = typeof quorum === 'string' && quorum.startsWith('OK');
          seen.push(`sentinel ${sentinel.port}: replica ${replicaOk ? 'ok' : (known?.get('flags') ?? 'unknown')}, ${peerCount} peers, ${quorum}`);
          ready &&= replicaOk && peerCount === SENTINELS - 1 && quorumOk;
        }
        lastSeen = seen.join('; ');
        return ready ? true : undefined;
      },
      READY_TIMEOUT_MS,
      'every sentinel to know the replica and the other sentinels',
      () => lastSeen,
    );
  } catch (error) {
    const logs = processes.map((p) => `--- 127.0.0.1:${p.port} (${p.logFile}) ---\n${p.logTail()}`).join('\n');
    await stop();
    throw new Error(`startRedisSentinel: the sentinel set did not come up: ${(error as Error).message}\n${logs}`, { cause: error });
  }

  return {
    masterName,
    sentinels: sentinels.map((s) => ({ host: '127.0.0.1' as const, port: s.port })),
    master: { port: master.port, pid: master.pid },
    replica: { port: replica.port, pid: replica.pid },
    password,
    dir,

    async killMaster(signal = 'SIGKILL') {
      if (!master.running()) throw new Error(`RedisSentinel.killMaster: the master ${master.port} is not running`);
      killedAt = performance.now();
      await master.kill(signal);
    },

    async waitForFailover(timeoutMs = 20_000) {
      const majority = Math.floor(SENTINELS / 2) + 1;
      const promoted = await pollUntil(
        async () => {
          const votes = new Map<number, number>();
          const seen: string[] = [];
          for (const sentinel of sentinels) {
            const addr = await adminCommand(sentinel.port, undefined, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]).catch(() => undefined);
            const port = Array.isArray(addr) ? Number(addr[1]) : undefined;
            seen.push(`sentinel ${sentinel.port} → ${port ?? 'no answer'}`);
            if (port !== undefined && port !== master.port) votes.set(port, (votes.get(port) ?? 0) + 1);
          }
          lastSeen = seen.join('; ');
          const [port] = [...votes].find(([, count]) => count >= majority) ?? [];
          if (port === undefined) return undefined;
          const role = await adminCommand(port, password, ['ROLE']).catch(() => undefined);
          return Array.isArray(role) && role[0] === 'master' ? port : undefined;
        },
        timeoutMs,
        `a majority of sentinels to name a master other than ${master.port} for "${masterName}"`,
        () => lastSeen,
      );
      return { host: '127.0.0.1', port: promoted, sinceKillMs: Math.round(performance.now() - (killedAt ?? performance.now())) };
    },

    stop,
  };
}
