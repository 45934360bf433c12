import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactUrl } from './secrets.js';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where one role (queue or cache) connects. `url` always gives the
 * credentials (user, password) and TLS (rediss://); it also gives host and
 * port unless `cluster` or `sentinel` says where the servers are.
 */
export interface RedisTarget {
  url: string;
  /** PEM of the CA that signed the servers' certificates, for rediss:// URLs. */
  ca?: string | undefined;
  /** Redis Cluster: the startup nodes (ioredis discovers the rest). */
  cluster?: readonly HostPort[] | undefined;
  /** Sentinel-managed failover: the sentinels, the master's name, their own password. */
  sentinel?: { nodes: readonly HostPort[]; name: string; password?: string | undefined } | undefined;
}

/** A single server (or a Sentinel-managed master) or a Redis Cluster: both speak the same commands. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The target for logs and messages, password masked: `redis://:***@host:6379`, `cluster 10.0.0.1:7000,…`, `sentinel mymaster via …`. */
export function describeTarget(target: RedisTarget): string {
  const list = (nodes: readonly HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (target.cluster?.length) return `cluster ${list(target.cluster)}`;
  if (target.sentinel) return `sentinel ${target.sentinel.name} via ${list(target.sentinel.nodes)}`;
  return redactUrl(target.url);
}

/** Two roles that connect to the same servers share one client where they can. */
export function sameTarget(a: RedisTarget, b: RedisTarget): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Reconnect forever, backing off to 1 s: a daemon outlives Redis restarts and
 * failovers. The cap is short because a failover or a restart is over in a
 * few seconds and every second of backoff past it delays the first refresh
 * after it; an attempt to connect costs Redis next to nothing.
 */
const backoff = (times: number) => Math.min(1_000, 50 * 2 ** Math.min(times, 5));

/**
 * ioredis clients for a target. BullMQ's connections need
 * `maxRetriesPerRequest: null`: commands wait for a reconnect instead of
 * failing. The cache connection fails a command after two reconnect attempts
 * instead, so that a refresh reports Redis being down rather than hanging.
 * `extra` overrides per call (the CLI's never-reconnecting connections); for
 * a cluster it applies to every node's connection, and its `retryStrategy`
 * and `lazyConnect` to the cluster itself.
 */
export function connectRedis(target: RedisTarget, purpose: 'queue' | 'cache', extra: RedisOptions = {}): RedisClient {
  const tls = target.url.startsWith('rediss:') ? { tls: target.ca ? { ca: target.ca } : {} } : {};
  const common: RedisOptions = {
    connectionName: `cache-warmer:${purpose}`,
    maxRetriesPerRequest: purpose === 'queue' ? null : 2,
    enableReadyCheck: true,
    // ioredis waits this long for a socket to close on disconnect(); 2 s by
    // default, which a second SIGTERM should not have to wait out.
    disconnectTimeout: 200,
    // TCP keepalive finds a dead peer that never sends a reset.
    keepAlive: 10_000,
    retryStrategy: backoff,
    ...tls,
    ...extra,
  };
  if (target.cluster?.length) {
    const url = new URL(target.url);
    const { retryStrategy, lazyConnect, ...nodeOptions } = common;
    const options: ClusterOptions = {
      redisOptions: {
        ...nodeOptions,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      },
      clusterRetryStrategy: retryStrategy ?? backoff,
      ...(lazyConnect ? { lazyConnect } : {}),
      // After a failover the slots move: ask the cluster again soon rather than
      // retrying against a dead master (ioredis defaults: 100 ms / 5 s).
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 300,
      slotsRefreshInterval: 5_000,
      // The cache's writes are spread over the slots of every master: ioredis
      // groups the commands of one tick per node.
      enableAutoPipelining: purpose === 'cache',
    };
    return new Cluster(target.cluster.map((n) => ({ ...n })), options);
  }
  if (target.sentinel) {
    // The URL's user and password are the master's; its host and port are ignored.
    return new Redis(target.url, {
      ...common,
      sentinels: target.sentinel.nodes.map((n) => ({ ...n })),
      name: target.sentinel.name,
      ...(target.sentinel.password ? { sentinelPassword: target.sentinel.password } : {}),
      // A few rounds over the sentinels, then the attempt counts as failed and
      // retryStrategy decides, as for a server that does not answer: the
      // daemon tries again forever, commands of the cache connection fail
      // after maxRetriesPerRequest, and a CLI command gives up. (Left to
      // itself ioredis would loop over the sentinels with commands queued.)
      sentinelRetryStrategy: (times) => (times > 3 ? null : backoff(times)),
      // Ask the sentinels again as soon as the master goes away, and follow +switch-master.
      failoverDetector: true,
    });
  }
  return new Redis(target.url, common);
}

/** One command of a batch: name and arguments, the key first. */
export type BatchCommand = [name: string, key: string, ...args: (string | number)[]];

/**
 * Commands per round trip of a batch. ioredis joins a whole pipeline into one
 * string before writing it: a project list of 10,000 values sent at once
 * built a 10 MB string (and its UTF-8 copy) at the warm-up's memory peak.
 * 200 SETs of 2 KB values are about 400 KB per round trip, and on loopback
 * a round trip costs far less than building the values.
 */
export const BATCH_ROUND_TRIP = 200;

/**
 * Sends single-key commands in round trips of at most `BATCH_ROUND_TRIP`
 * commands, one after the other, and returns their replies in order,
 * `[error, reply]` each, like a pipeline. On a single Redis each round trip
 * is a pipeline. On a cluster a pipeline may not span the slots of several
 * masters, so a round trip's commands are sent at once and ioredis's
 * auto-pipelining groups them per node (one round trip per master).
 */
export async function execBatch(client: RedisClient, commands: readonly BatchCommand[], roundTrip = BATCH_ROUND_TRIP): Promise<Array<[Error | null, unknown]>> {
  const replies: Array<[Error | null, unknown]> = [];
  for (let i = 0; i < commands.length; i += roundTrip) {
    const part = commands.slice(i, i + roundTrip);
    if (isCluster(client)) replies.push(...(await Promise.all(part.map(([name, ...args]) => settle(client.call(name, ...args))))));
    else replies.push(...(((await client.pipeline(part).exec()) ?? []) as Array<[Error | null, unknown]>));
  }
  return replies;
}

/** A reply as a pipeline gives it: `[null, reply]` or `[error, null]`. */
export function settle(reply: Promise<unknown>): Promise<[Error | null, unknown]> {
  return reply.then(
    (value): [Error | null, unknown] => [null, value],
    (error: Error): [Error | null, unknown] => [error, null],
  );
}

/** A client for one server named by its URL (the reader, tests): never a cluster. */
export function connectServer(url: string, purpose: 'queue' | 'cache', extra: RedisOptions = {}): Redis {
  return connectRedis({ url }, purpose, extra) as Redis;
}

/** Closes a client: QUIT when connected, else disconnect; never throws, never waits long. */
export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    if (client.status === 'ready') {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    }
  } catch {
    // fall through to disconnect
  }
  if (client.status !== 'end') client.disconnect();
}

/** The masters of a cluster, or the client itself: where a SCAN or a CONFIG must go. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}
