import { isIdString } from '../shared/ids.js';

/**
 * Minimal shape checks of a stored value: only what an app relies on without
 * looking (an object, a readable `cached_at`, ids as decimal strings, the lists
 * being lists). A full schema would reject values a newer daemon writes with
 * added fields, which the contract allows.
 */

/** Reports a problem with the value, naming the field (`topics[3].topic_id`), never its content. */
export type Fail = (problem: string, cause?: unknown) => never;

export function object(value: unknown, at: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${at} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function list(value: unknown, at: string, fail: Fail): unknown[] {
  if (!Array.isArray(value)) fail(`${at} is not a list`);
  return value as unknown[];
}

/** A JSON number here would mean the writer rounded ids above 2^53: refused rather than passed on. */
export function id(value: unknown, at: string, fail: Fail): string {
  if (!isIdString(value)) fail(`${at} is not a decimal id string`);
  return value as string;
}

/** The value belongs to the key it was read from (its id, scope or type). */
export function same(value: unknown, expected: string, at: string, fail: Fail): void {
  if (value !== expected) fail(`${at} is not ${JSON.stringify(expected)}`);
}

/** The user of a ranking or a topic: an object whose user_id is an id string. */
export function user(value: unknown, at: string, fail: Fail): void {
  id(object(value, at, fail).user_id, `${at}.user_id`, fail);
}

// An ISO-8601 instant with its zone: what `Date.prototype.toISOString` writes,
// and what other writers of the contract (e.g. Python's isoformat) produce.
const INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)$/;

/** `cached_at` as a Date; a value without one cannot be judged fresh or stale. */
export function cachedAt(value: Record<string, unknown>, fail: Fail): Date {
  const text = value.cached_at;
  const at = typeof text === 'string' && INSTANT.test(text) ? new Date(text) : undefined;
  if (!at || Number.isNaN(at.getTime())) fail('cached_at is not an ISO-8601 instant');
  return at as Date;
}
