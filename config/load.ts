import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import convict from 'convict';
import { ConfigError } from '../src/shared/errors.js';
import { parseDuration } from '../src/shared/duration.js';
import { registerSecret } from '../src/shared/secrets.js';
import { buildSchema } from './schema.js';
import { formats } from './formats.js';

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
  redis: { url: string; queueUrl: string; cacheUrl: string; ca: string | undefined };
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

  const graceMs = ms('shutdown.grace');
  const deadlineMs = ms('upstream.deadline');
  if (deadlineMs >= graceMs) {
    throw new ConfigError(`upstream.deadline (${deadlineMs} ms) must be shorter than shutdown.grace (${graceMs} ms), so a request in flight at SIGTERM can finish`);
  }
  return {
    redis: { url: redisUrl, queueUrl, cacheUrl, ca },
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

function jsonErrorPosition(text: string, error: unknown): string {
  const match = /position (\d+)/.exec(String((error as Error).message));
  if (!match) return 'unexpected end or token';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/** How long a token read from the file is reused: a rotation is picked up within this, without a read per request. */
const TOKEN_FILE_REREAD_MS = 1_000;

/** The token, from UPSTREAM_TOKEN or else the token file, read again at most every second so a rotation is picked up. */
function resolveToken(token: string, tokenFile: string): () => string {
  if (token) return () => token;
  if (!tokenFile) throw new ConfigError('upstream.token: missing (set UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE)');
  let cached = '';
  let readAt = 0;
  const read = () => {
    if (cached && Date.now() - readAt < TOKEN_FILE_REREAD_MS) return cached;
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      // Mid-rotation the file may be briefly missing: keep the last good token.
      if (cached) return cached;
      throw new ConfigError(`upstream.tokenFile: cannot read ${tokenFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    if (!text) {
      if (cached) return cached;
      throw new ConfigError(`upstream.tokenFile: ${tokenFile} is empty`);
    }
    registerSecret(text);
    cached = text;
    readAt = Date.now();
    return text;
  };
  read();
  return read;
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Turns convict's message into one line: `<source>: <setting> "<value>" <problem>`. */
function describeValidation(
  message: string,
  schema: ReturnType<typeof buildSchema>,
  env: NodeJS.ProcessEnv,
  fileName: string | undefined,
  fileData: Record<string, unknown> | undefined,
  jobNames: readonly string[],
): string {
  const lines = message.split('\n').filter(Boolean);
  const described = lines.map((line) => {
    const overridden = /^configuration param '(.+)' missing from config, did you override its parent\?$/.exec(line);
    if (overridden) {
      // A section given a plain value (`"cache": "zsxq"`): name the section once.
      const top = overridden[1]!.split('.')[0]!;
      const job = /^jobs\.([^.]+)\./.exec(overridden[1]!);
      const parent = job && jobNames.includes(job[1]!) && fileHas(fileData, 'jobs') && typeof fileData?.jobs === 'object' && fileData.jobs !== null ? `jobs.${job[1]}` : top;
      return `${fileName ?? 'config'}: ${parent} must be an object`;
    }
    const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const setting = undeclared[1]!;
      const job = /^jobs\.([^.]+)(\.|$)/.exec(setting);
      if (job && !jobNames.includes(job[1]!)) {
        return `${fileName ?? 'config'}: jobs.${job[1]} is not a job (valid: ${jobNames.join(', ')})`;
      }
      return `${fileName ?? 'config'}: ${setting} is not a setting`;
    }
    const invalid = /^([\w.-]+): (.*?)(?:: value was (.*))?$/.exec(line);
    if (!invalid) return line;
    const [, setting, problem, value] = invalid;
    const envName = envOf(schema, setting!);
    const source = envName && env[envName] !== undefined ? envName : fileHas(fileData, setting!) ? fileName! : 'default';
    return `${source}: ${setting}${value ? ` ${value}` : ''} ${problem!.trim()}`;
  });
  const unique = [...new Set(described)];
  // "cache must be an object" makes "cache is not a setting" redundant.
  return unique.filter((line) => !unique.some((other) => other !== line && other.endsWith(' must be an object') && line === other.replace(' must be an object', ' is not a setting'))).join('; ');
}

function envOf(schema: ReturnType<typeof buildSchema>, setting: string): string | undefined {
  let node: unknown = schema;
  for (const part of setting.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  const envName = (node as { env?: unknown } | undefined)?.env;
  return typeof envName === 'string' ? envName : undefined;
}

function fileHas(data: Record<string, unknown> | undefined, setting: string): boolean {
  let node: unknown = data;
  for (const part of setting.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}
