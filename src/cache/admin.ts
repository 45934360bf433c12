import { execBatch, isCluster, masters, settle, type BatchCommand, type RedisClient } from '../shared/redis.js';
import { WarmerError } from '../shared/errors.js';
import { internalKeys, type KeyTemplate } from './keys.js';

/**
 * Admin access to the warmed keys (`keys`, `clear`): SCAN with a COUNT hint,
 * never KEYS, which blocks the server for the whole keyspace; reads and
 * deletes are pipelined per page. Only keys under `{prefix}:` are ever seen,
 * and the warmer's own state under the same prefix (status store, rate
 * limiter, gone projects, BullMQ, doctor's probes) is left out: listing it
 * would mislead, deleting it would lose schedules and run history.
 */

/** Keys Redis looks at per SCAN call: a hint, not a page size; large enough that a big keyspace takes few round trips. */
export const SCAN_COUNT = 500;
/** SCAN calls of one listing at most: far beyond any keyspace this daemon writes, so a loop that never ends cannot exist. */
const MAX_SCAN_CALLS = 1_000_000;
/** Keys per UNLINK command. */
const UNLINK_BATCH = 200;

/** The keys of one deployment: its prefix and the namespaces under it that belong to the warmer itself. */
export interface KeySpace {
  readonly prefix: string;
  /** `true` for a key of the warmer's own state (never listed, never deleted). */
  isInternal(key: string): boolean;
}

/**
 * Namespaces under the prefix the warmer uses for itself. The status store's
 * the gone projects' and the rate limiter's keys come from internalKeys; the
 * queue's prefix is passed in (runtime.ts queuePrefix, `{prefix}:bull`).
 */
export function keySpace(prefix: string, queuePrefix: string): KeySpace {
  const namespaces = [
    internalKeys.status(prefix, ''), // `{prefix}:status:`: every status store key
    internalKeys.upstreamRateLimit(prefix),
    `${queuePrefix}:`,
    `${prefix}:${DOCTOR_NAMESPACE}:`,
  ];
  const exact = new Set([internalKeys.goneProjects(prefix)]);
  return {
    prefix,
    isInternal: (key) => exact.has(key) || namespaces.some((ns) => key.startsWith(ns)),
  };
}

/** Where `doctor` probes commands on scratch keys (see cli/doctor/permissions.ts); internal, so never listed. */
export const DOCTOR_NAMESPACE = 'doctor';

/** Which keys an admin command works on: a glob for SCAN MATCH, relative to the prefix, and an optional finer test. */
export interface KeySelector {
  /** Glob relative to the prefix, e.g. `project:123:*` (Redis glob: `*`, `?`, `[…]`, `\` escapes). */
  readonly glob: string;
  /** Applied after SCAN to the full key, for what a glob cannot say (an exact id). */
  readonly accept?: (key: string) => boolean;
}

/**
 * Pages of matching, non-internal keys under the prefix, as SCAN returns them
 * (a key may come twice while Redis rehashes; callers that count tolerate it).
 */
export async function* scanKeys(redis: RedisClient, space: KeySpace, selector: KeySelector, count = SCAN_COUNT): AsyncGenerator<string[]> {
  const match = `${space.prefix}:${selector.glob}`;
  const under = `${space.prefix}:`;
  // A cluster's keys are spread over its masters: each is scanned in turn, with its own cursor.
  for (const node of masters(redis)) {
    let cursor = '0';
    for (let calls = 0; ; calls += 1) {
      if (calls >= MAX_SCAN_CALLS) throw new WarmerError('ERR_CACHE', `SCAN of ${match} did not finish within ${MAX_SCAN_CALLS} calls`);
      const [next, batch] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      // startsWith again: the prefix has no glob characters (config checks it), but a key outside it must never be touched.
      const keys = batch.filter((key) => key.startsWith(under) && !space.isInternal(key) && (selector.accept?.(key) ?? true));
      if (keys.length) yield keys;
      cursor = next;
      if (cursor === '0') break;
    }
  }
}

/** One listed key. `null` where the value is not a string or carries no readable `cached_at`. */
export interface KeyInfo {
  key: string;
  /** The job whose key template the key matches, or null (a job removed from jobs/, a key someone else wrote). */
  job: string | null;
  /** Time to live left; null when the key has no TTL (the warmer always sets one). */
  ttlMs: number | null;
  /** `cached_at` of the value (ISO-8601), when it has one. */
  cachedAt: string | null;
  /** Now minus `cached_at`. */
  ageMs: number | null;
  /** The value's length in bytes (STRLEN), measured on the GET reply; null for a non-string key. */
  bytes: number | null;
}

/** Reads TTL and value of `keys` in one pipeline; keys that vanished meanwhile (expired) are left out. */
export async function readKeyInfos(redis: RedisClient, keys: readonly string[], families: readonly KeyFamily[], now = Date.now()): Promise<KeyInfo[]> {
  if (keys.length === 0) return [];
  // Buffer replies: the byte length is STRLEN without a third command, and a non-UTF-8 value is measured right.
  let replies: Array<[Error | null, unknown]>;
  if (isCluster(redis)) {
    // A pipeline may not span masters: per-key commands, grouped per node by ioredis's auto-pipelining.
    replies = (await Promise.all(keys.map((key) => Promise.all([settle(redis.pttl(key)), settle(redis.getBuffer(key))])))).flat();
  } else {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.pttl(key).getBuffer(key);
    replies = ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
  }
  const out: KeyInfo[] = [];
  keys.forEach((key, i) => {
    const [ttlError, pttl] = replies[2 * i] ?? [new Error('no reply')];
    const [, value] = replies[2 * i + 1] ?? []; // WRONGTYPE for a non-string key: listed, without size or age
    if (ttlError) throw new WarmerError('ERR_CACHE', `PTTL ${key} failed: ${ttlError.message}`, { cause: ttlError });
    if (pttl === -2) return;
    const buffer = Buffer.isBuffer(value) ? value : undefined;
    const cachedAt = buffer ? readCachedAt(buffer) : null;
    out.push({
      key,
      job: families.find((f) => f.pattern.test(key))?.job ?? null,
      ttlMs: typeof pttl === 'number' && pttl >= 0 ? pttl : null,
      cachedAt,
      ageMs: cachedAt === null ? null : Math.max(0, now - Date.parse(cachedAt)),
      bytes: buffer ? buffer.length : null,
    });
  });
  return out;
}

function readCachedAt(value: Buffer): string | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as { cached_at?: unknown };
    const at = typeof parsed === 'object' && parsed !== null ? parsed.cached_at : undefined;
    return typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? at : null;
  } catch {
    return null;
  }
}

export interface KeyListing {
  keys: KeyInfo[];
  /** Matching keys seen by the whole scan, listed or not. */
  matched: number;
  /** More keys matched than `limit`. */
  truncated: boolean;
}

/**
 * Up to `limit` matching keys with TTL, age and size, and how many matched
 * in all: the scan goes on past the limit only to count (no reads), so the
 * output stays bounded and still says what it left out. Which keys are shown
 * when truncated is SCAN's order, not alphabetical.
 */
export async function listKeys(redis: RedisClient, space: KeySpace, selector: KeySelector, limit: number, families: readonly KeyFamily[]): Promise<KeyListing> {
  const listed = new Set<string>();
  const keys: KeyInfo[] = [];
  let beyond = 0;
  for await (const page of scanKeys(redis, space, selector)) {
    const fresh = page.filter((key) => !listed.has(key));
    const room = fresh.slice(0, Math.max(0, limit - listed.size));
    beyond += fresh.length - room.length;
    for (const key of room) listed.add(key);
    keys.push(...(await readKeyInfos(redis, room, families)));
  }
  keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { keys, matched: keys.length + beyond, truncated: beyond > 0 };
}

/** Deletes the matching keys page by page (UNLINK: the memory is freed in the background); returns how many existed and were removed. */
export async function unlinkKeys(redis: RedisClient, space: KeySpace, selector: KeySelector, onPage?: (deletedSoFar: number) => void): Promise<number> {
  let deleted = 0;
  for await (const page of scanKeys(redis, space, selector)) {
    // On a cluster one UNLINK per key: a command's keys must share a slot.
    const commands: BatchCommand[] = isCluster(redis) ? page.map((key): BatchCommand => ['unlink', key]) : [];
    for (let i = 0; !isCluster(redis) && i < page.length; i += UNLINK_BATCH) {
      const [first, ...rest] = page.slice(i, i + UNLINK_BATCH);
      commands.push(['unlink', first!, ...rest]);
    }
    const replies = await execBatch(redis, commands);
    for (const [error, removed] of replies) {
      if (error) throw new WarmerError('ERR_CACHE', `UNLINK failed after ${deleted} keys were deleted: ${error.message}`, { cause: error });
      deleted += Number(removed);
    }
    onPage?.(deleted);
  }
  return deleted;
}

/** Counts the matching keys and keeps the first few in key order as a sample (for a confirmation prompt). */
export async function countKeys(redis: RedisClient, space: KeySpace, selector: KeySelector, sampleSize = 5): Promise<{ count: number; sample: string[] }> {
  let count = 0;
  let sample: string[] = [];
  for await (const page of scanKeys(redis, space, selector)) {
    count += page.length;
    // Alphabetical, not SCAN's order: the same keys are shown every time.
    sample = [...new Set([...sample, ...page])].sort().slice(0, sampleSize);
  }
  return { count, sample };
}

/** The keys of one job's template, recognised by a regular expression, and the project id they hold. */
export interface KeyFamily {
  job: string;
  template: string;
  pattern: RegExp;
  /** The `{id}` of a matching key, undefined when the key does not match or the template has no id. */
  idOf(key: string): string | undefined;
}

const PLACEHOLDER = /\{([a-z_]+)\}/g;

/**
 * A matcher per key template of each job, built like KeyTemplate.build
 * checks values: `{id}` is decimal digits, any other placeholder a short word.
 */
export function keyFamilies(prefix: string, jobs: ReadonlyArray<{ name: string; keys: Readonly<Record<string, KeyTemplate>> }>): KeyFamily[] {
  return jobs.flatMap((job) =>
    Object.values(job.keys).map((t) => {
      let source = '';
      let last = 0;
      for (const m of t.template.matchAll(PLACEHOLDER)) {
        source += escapeRegExp(t.template.slice(last, m.index));
        source += m[1] === 'id' ? '(?<id>[0-9]{1,20})' : '[A-Za-z0-9_-]{1,32}';
        last = m.index + m[0].length;
      }
      source += escapeRegExp(t.template.slice(last));
      const pattern = new RegExp(`^${escapeRegExp(prefix)}:${source}$`);
      return { job: job.name, template: t.template, pattern, idOf: (key: string) => pattern.exec(key)?.groups?.id };
    }),
  );
}

/**
 * Every key of one project, whatever job wrote it: a glob that finds the id
 * anywhere, then an exact test against the templates that hold `{id}`, so
 * that project 12 does not take project 123's keys.
 */
export function projectSelector(projectId: string, families: readonly KeyFamily[]): KeySelector {
  return { glob: `*${projectId}*`, accept: (key) => families.some((f) => f.idOf(key) === projectId) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
