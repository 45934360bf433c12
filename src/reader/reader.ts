import type { Redis, RedisOptions } from 'ioredis';
import { KeyError } from '../shared/errors.js';
import { closeRedis, connectServer } from '../shared/redis.js';
import { ReaderError } from './errors.js';
import { FAMILIES, parseValue, type FamilyData, type FamilyName } from './families.js';
import { LEADERBOARD_TYPES, SCOPES, type LeaderboardType, type Scope } from './values.js';

/** What the reader needs of a client: `GET`. An ioredis `Redis` or `Cluster` fits. */
export interface ReaderClient {
  get(key: string): Promise<string | null>;
}

export interface ReaderOptions {
  /**
   * The prefix the daemon writes under (its `CACHE_PREFIX`).
   * @defaultValue 'zsxq'
   */
  prefix?: string;
  /**
   * Per family, the age beyond which a value is flagged `stale`.
   * @defaultValue each family's default cadence, see DEFAULT_MAX_AGE_MS
   */
  maxAgeMs?: Partial<Record<FamilyName, number>>;
  /**
   * Options of the connection the reader opens when given a URL (e.g. `tls`
   * for a rediss:// server); ignored when given a client.
   */
  redisOptions?: RedisOptions;
}

export interface ReadOptions {
  /**
   * The age beyond which this value is flagged `stale`.
   * @defaultValue the reader's setting for the family
   */
  maxAgeMs?: number;
}

/** A warmed value with its freshness. */
export interface Cached<T> {
  /** The value as the daemon wrote it (with `cached_at`). */
  data: T;
  /** When the daemon fetched the data (`cached_at`). */
  cachedAt: Date;
  /** Milliseconds since `cachedAt`, by this machine's clock; 0 when the clocks disagree the other way. */
  ageMs: number;
  /** `ageMs` is above the max age: the daemon is serving the last good value while its refreshes fail. */
  stale: boolean;
}

export const DEFAULT_PREFIX = 'zsxq';

// The rule of config's `key-prefix` format, so that a typo fails here rather
// than as a reader that finds nothing.
const PREFIX = /^[A-Za-z0-9_.\-:{}]{1,64}$/;

function checkMaxAge(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative number of milliseconds`);
  }
  return value;
}

function oneOf<T extends string>(value: T, allowed: readonly T[], what: string): T {
  if (!allowed.includes(value)) {
    throw new KeyError(`${what} ${JSON.stringify(String(value).slice(0, 40))} is not one of ${allowed.join(', ')}`);
  }
  return value;
}

/**
 * Reads the warmed keys of the cache contract: one method per key family,
 * each resolving to the value with its age and a stale flag, or null when the
 * key is missing (not warmed yet, expired, or evicted). Ids are checked to be
 * decimal strings and are returned as strings.
 */
export class CacheReader {
  readonly prefix: string;
  private readonly client: ReaderClient;
  private readonly owned: Redis | undefined;
  private readonly maxAgeMs: Record<FamilyName, number>;

  constructor(redis: ReaderClient | string, options: ReaderOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
      throw new KeyError('cache prefix must be 1-64 characters of letters, digits, _ . - : { }');
    }
    this.prefix = prefix;
    const maxAgeMs = {} as Record<FamilyName, number>;
    for (const name of Object.keys(FAMILIES) as FamilyName[]) {
      const given = options.maxAgeMs?.[name];
      maxAgeMs[name] = given === undefined ? FAMILIES[name].maxAgeMs : checkMaxAge(given, `maxAgeMs.${name}`);
    }
    this.maxAgeMs = maxAgeMs;
    if (typeof redis === 'string') {
      this.owned = connectServer(redis, 'cache', { connectionName: 'cache-warmer:reader', ...options.redisOptions });
      // A failed read rejects with its error; without a listener ioredis would
      // also print every reconnect attempt to the app's console.
      this.owned.on('error', () => undefined);
      this.client = this.owned;
    } else {
      this.owned = undefined;
      this.client = redis;
    }
  }

  /** `{p}:projects:list:{scope}` */
  async projectsList(scope: Scope, options?: ReadOptions): Promise<Cached<FamilyData['projectsList']> | null> {
    return this.read('projectsList', { scope: oneOf(scope, SCOPES, 'scope') }, options);
  }

  /** `{p}:project:{id}:info`; a project deleted upstream reads as `{ gone: true, status: 'deleted' }`. */
  async projectInfo(projectId: string, options?: ReadOptions): Promise<Cached<FamilyData['projectInfo']> | null> {
    return this.read('projectInfo', { id: projectId }, options);
  }

  /** `{p}:project:{id}:stats` */
  async projectStats(projectId: string, options?: ReadOptions): Promise<Cached<FamilyData['projectStats']> | null> {
    return this.read('projectStats', { id: projectId }, options);
  }

  /** `{p}:project:{id}:leaderboard:{type}` */
  async leaderboard(projectId: string, type: LeaderboardType, options?: ReadOptions): Promise<Cached<FamilyData['leaderboard']> | null> {
    return this.read('leaderboard', { id: projectId, type: oneOf(type, LEADERBOARD_TYPES, 'leaderboard type') }, options);
  }

  /** `{p}:project:{id}:daily_stats` */
  async dailyStats(projectId: string, options?: ReadOptions): Promise<Cached<FamilyData['dailyStats']> | null> {
    return this.read('dailyStats', { id: projectId }, options);
  }

  /** `{p}:project:{id}:topics` */
  async topics(projectId: string, options?: ReadOptions): Promise<Cached<FamilyData['topics']> | null> {
    return this.read('topics', { id: projectId }, options);
  }

  /** Closes the connection the reader opened from a URL; a client passed in is left to its owner. */
  async close(): Promise<void> {
    if (this.owned) await closeRedis(this.owned);
  }

  private async read<F extends FamilyName>(family: F, params: Record<string, string>, options: ReadOptions = {}): Promise<Cached<FamilyData[F]> | null> {
    // Builds and checks the key (ids must be decimal digits) before any I/O.
    const key = FAMILIES[family].key.build(this.prefix, params);
    const maxAgeMs = options.maxAgeMs === undefined ? this.maxAgeMs[family] : checkMaxAge(options.maxAgeMs, 'maxAgeMs');
    const fail = (problem: string, cause?: unknown): never => {
      throw new ReaderError(key, problem, cause === undefined ? undefined : { cause });
    };
    let text: string | null;
    try {
      text = await this.client.get(key);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('WRONGTYPE')) fail('is not a string key', error);
      throw error;
    }
    if (text === null) return null;
    const { data, cachedAt } = parseValue(family, text, params, fail);
    const ageMs = Math.max(0, Date.now() - cachedAt.getTime());
    return { data, cachedAt, ageMs, stale: ageMs > maxAgeMs };
  }
}

/** A reader over an ioredis client (left open by `close()`) or a redis:// URL (closed by `close()`). */
export function createReader(redis: ReaderClient | string, options?: ReaderOptions): CacheReader {
  return new CacheReader(redis, options);
}
