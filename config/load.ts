import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import convict from 'convict';
import { ConfigError } from '../src/shared/errors.js';
import { parseDuration } from '../src/shared/duration.js';
import { registerSecret } from '../src/shared/secrets.js';
import { buildSchema } from './schema.js';
import { formats, parseHostPortList } from './formats.js';
import { sameTarget, type RedisTarget } from '../src/shared/redis.js';
import { describeValidation, jsonErrorPosition } from './messages.js';
import { resolveOptionalSecret, resolveToken } from './token.js';

export interface JobSettings {
  enabled: boolean;
  everyMs: number | null;
  cron: string | null;
  /** undefined: as the job file says; false: none; a string: this cron. */
  alsoAt: string | false | undefined;
  ttlMs: number | null;
  emptyTtlMs: number | null;
  maxStaleMs: number | null;
}

/** The checked, typed configuration. Durations are milliseconds. */
export interface Config {
  /** `queueUrl` and `cacheUrl` are resolved (each defaults to `url`); `ca` is the CA file's content. */
  redis: {
    url: string;
    queueUrl: string;
    cacheUrl: string;
    ca: string | undefined;
    /** Where the queue, the status store and the rate limiter live (a server, a cluster or a sentinel-managed master). */
    queue: RedisTarget;
    /** Where the warmed keys live. */
    cache: RedisTarget;
    /** Queue and cache are the same servers: one connection serves both. */
    shared: boolean;
  };
  cache: { prefix: string; maxStaleMs: number };
  upstream: {
    baseUrl: string;
    groupId: string;
    timeoutMs: number;
    deadlineMs: number;
    retries: number;
    maxBodyBytes: number;
    maxRetryAfterMs: number;
    concurrency: number;
    /** Requests per second for the whole fleet; 0: unlimited. */
    rateLimit: number;
    /** The token as configured now; with a token file it is read again on every call. */
    token(): string;
  };
  group: { timezone: string };
  projects: { scopes: string[] };
  worker: { concurrency: number; batchSize: number; lockDurationMs: number; stalledIntervalMs: number };
  shutdown: { graceMs: number };
  watchdog: { intervalMs: number; stuckAfterMs: number };
  http: {
    /** false: the daemon serves no HTTP at all. */
    enabled: boolean;
    /** 0: any free port. */
    port: number;
    host: string;
    /** The admin bearer token; '' when none is set (the admin routes answer 403). Re-read from its file like the upstream token. */
    adminToken(): string;
  };
  /** V8 heap settings (src/shared/heap.ts); 0 keeps V8's own. */
  memory: { heapGrowthPercent: number; semiSpaceMb: number };
  log: { level: string };
  jobs: Record<string, JobSettings>;
}

export interface LoadOptions {
  /** The JSON file given with --config. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  jobNames: readonly string[];
  /** False for commands that only read Redis (`status`): no token or group id needed. @defaultValue true */
  requireUpstream?: boolean;
}

/** Shortest admin token accepted. */
const MIN_ADMIN_TOKEN_LENGTH = 16;

let formatsAdded = false;

/**
 * Loads defaults, then the file, then the environment (convict's order), and
 * validates strictly. Any problem is one ConfigError line naming the source,
 * the setting, the value (unless secret) and what is wrong.
 */
export function loadConfig(options: LoadOptions): Config {
  if (!formatsAdded) {
    for (const [name, format] of Object.entries(formats)) convict.addFormat({ name, ...format });
    formatsAdded = true;
  }
  const env = options.env ?? process.env;
  const schema = buildSchema(options.jobNames);
  const conf = convict(schema as never, { env, args: [] });
  const fileName = options.file ? basename(options.file) : undefined;
  let fileData: Record<string, unknown> | undefined;
  if (options.file) {
    fileData = readJsonFile(options.file);
    conf.load(fileData);
  }
  try {
    conf.validate({ allowed: 'strict' });
  } catch (error) {
    throw new ConfigError(describeValidation(String((error as Error).message), schema, env, fileName, fileData, options.jobNames));
  }

  const get = (key: string) => conf.get(key as never) as unknown;
  const upstreamToken = String(get('upstream.token'));
  const tokenFile = String(get('upstream.tokenFile'));
  const requireUpstream = options.requireUpstream ?? true;
  const token = requireUpstream || upstreamToken || tokenFile ? resolveToken(upstreamToken, tokenFile) : () => '';
  registerSecret(token());
  const redisUrl = String(get('redis.url'));
  const queueUrl = (get('redis.queueUrl') as string | null) ?? redisUrl;
  const cacheUrl = (get('redis.cacheUrl') as string | null) ?? redisUrl;
  for (const url of [redisUrl, queueUrl, cacheUrl]) registerSecret(safePassword(url));
  const caFile = String(get('redis.caFile'));
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`redis.caFile: cannot read ${caFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  }
  const ms = (key: string) => parseDuration(get(key))!;
  const { queue, cache } = redisTargets(get, { queueUrl, cacheUrl, ca });

  const groupId = String(get('upstream.groupId'));
  if (!groupId && requireUpstream) throw new ConfigError('upstream.groupId: missing (set UPSTREAM_GROUP_ID)');

  const jobs: Record<string, JobSettings> = {};
  for (const name of options.jobNames) {
    const raw = get(`jobs.${name}`) as Record<string, unknown>;
    if (raw.every !== null && raw.cron !== null) {
      throw new ConfigError(`${fileName ?? 'config'}: jobs.${name}: give either every or cron, not both`);
    }
    const alsoAt = raw.alsoAt;
    if (alsoAt !== null && alsoAt !== false && typeof alsoAt !== 'string') {
      throw new ConfigError(`${fileName ?? 'config'}: jobs.${name}.alsoAt ${JSON.stringify(alsoAt)} must be a cron expression or false`);
    }
    if (typeof alsoAt === 'string') {
      try {
        formats.cron.validate(alsoAt);
      } catch (error) {
        throw new ConfigError(`${fileName ?? 'config'}: jobs.${name}.alsoAt ${JSON.stringify(alsoAt)} ${(error as Error).message}`);
      }
    }
    jobs[name] = {
      enabled: Boolean(raw.enabled),
      everyMs: raw.every === null ? null : parseDuration(raw.every)!,
      cron: raw.cron === null ? null : String(raw.cron),
      alsoAt: alsoAt === null ? undefined : (alsoAt as string | false),
      ttlMs: raw.ttl === null ? null : parseDuration(raw.ttl)!,
      emptyTtlMs: raw.emptyTtl === null ? null : parseDuration(raw.emptyTtl)!,
      maxStaleMs: raw.maxStale === null ? null : parseDuration(raw.maxStale)!,
    };
  }

  const adminToken = resolveOptionalSecret(String(get('http.adminToken')), String(get('http.adminTokenFile')), 'http.adminTokenFile');
  registerSecret(adminToken());
  if (adminToken() && adminToken().length < MIN_ADMIN_TOKEN_LENGTH) {
    // Short tokens are guessable, and the secret registry ignores values under 4 characters: it would reach logs.
    throw new ConfigError(`http.adminToken: too short (${adminToken().length} characters; use at least ${MIN_ADMIN_TOKEN_LENGTH}, e.g. openssl rand -hex 32)`);
  }

  const graceMs = ms('shutdown.grace');
  const deadlineMs = ms('upstream.deadline');
  if (deadlineMs >= graceMs) {
    throw new ConfigError(`upstream.deadline (${deadlineMs} ms) must be shorter than shutdown.grace (${graceMs} ms), so a request in flight at SIGTERM can finish`);
  }
  return {
    redis: { url: redisUrl, queueUrl, cacheUrl, ca, queue, cache, shared: sameTarget(queue, cache) },
    cache: { prefix: String(get('cache.prefix')), maxStaleMs: ms('cache.maxStale') },
    upstream: {
      baseUrl: String(get('upstream.baseUrl')).replace(/\/+$/, ''),
      groupId,
      timeoutMs: ms('upstream.timeout'),
      deadlineMs,
      retries: Number(get('upstream.retries')),
      maxBodyBytes: Number(get('upstream.maxBodyBytes')),
      maxRetryAfterMs: ms('upstream.maxRetryAfter'),
      concurrency: Math.max(1, Number(get('upstream.concurrency'))),
      rateLimit: Number(get('upstream.rateLimit')),
      token,
    },
    group: { timezone: String(get('group.timezone')) },
    projects: { scopes: get('projects.scopes') as string[] },
    worker: {
      concurrency: Math.max(1, Number(get('worker.concurrency'))),
      batchSize: Math.max(1, Number(get('worker.batchSize'))),
      lockDurationMs: ms('worker.lockDuration'),
      stalledIntervalMs: ms('worker.stalledInterval'),
    },
    shutdown: { graceMs },
    watchdog: { intervalMs: ms('watchdog.interval'), stuckAfterMs: ms('watchdog.stuckAfter') },
    http: { enabled: Boolean(get('http.enabled')), port: Number(get('http.port')), host: String(get('http.host')), adminToken },
    memory: { heapGrowthPercent: Number(get('memory.heapGrowth')), semiSpaceMb: Number(get('memory.semiSpaceMb')) },
    log: { level: String(get('log.level')) },
    jobs,
  };
}

function readJsonFile(path: string): Record<string, unknown> {
  const name = basename(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--config ${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the error, which may be a token
    // that is not registered as a secret yet: report only where it is.
    throw new ConfigError(`${name}: not valid JSON (${jsonErrorPosition(text, error)})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`${name}: must hold a JSON object`);
  }
  return data as Record<string, unknown>;
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The queue's and the cache's targets: a URL each, switched to a cluster or
 * to sentinels for the roles `redis.cluster.for` / `redis.sentinel.for` name.
 */
function redisTargets(
  get: (key: string) => unknown,
  base: { queueUrl: string; cacheUrl: string; ca: string | undefined },
): { queue: RedisTarget; cache: RedisTarget } {
  const clusterText = String(get('redis.cluster.nodes'));
  const sentinelText = String(get('redis.sentinel.nodes'));
  const sentinelName = String(get('redis.sentinel.name'));
  const sentinelPassword = String(get('redis.sentinel.password'));
  registerSecret(sentinelPassword);
  const roles = (key: string) => {
    const value = String(get(key));
    return new Set(value === 'both' ? ['queue', 'cache'] : [value]);
  };
  const cluster = clusterText ? { nodes: parseHostPortList(clusterText), roles: roles('redis.cluster.for') } : undefined;
  if (sentinelText && !sentinelName) throw new ConfigError('redis.sentinel.name: missing (set REDIS_SENTINEL_NAME to the master name the sentinels monitor)');
  if (!sentinelText && sentinelName) throw new ConfigError('redis.sentinel.nodes: missing (set REDIS_SENTINELS, or unset REDIS_SENTINEL_NAME)');
  const sentinel = sentinelText ? { nodes: parseHostPortList(sentinelText), roles: roles('redis.sentinel.for') } : undefined;
  const target = (role: 'queue' | 'cache', url: string): RedisTarget => {
    const inCluster = cluster?.roles.has(role) ?? false;
    const inSentinel = sentinel?.roles.has(role) ?? false;
    if (inCluster && inSentinel) {
      throw new ConfigError(`redis: the ${role} cannot use both REDIS_CLUSTER_NODES and REDIS_SENTINELS; set REDIS_CLUSTER_FOR / REDIS_SENTINEL_FOR to give each role one`);
    }
    return {
      url,
      ca: base.ca,
      ...(inCluster ? { cluster: cluster!.nodes } : {}),
      ...(inSentinel ? { sentinel: { nodes: sentinel!.nodes, name: sentinelName, ...(sentinelPassword ? { password: sentinelPassword } : {}) } } : {}),
    };
  };
  return { queue: target('queue', base.queueUrl), cache: target('cache', base.cacheUrl) };
}
