import { z } from 'zod';
import { isIdString } from '../shared/ids.js';

/**
 * Building blocks for the `response` schemas of jobs/. Objects strip keys they
 * do not name (so `user_specific` and `__proto__` never reach a value), ids
 * become exact decimal strings, and text fields tolerate a missing value the
 * way the app's own client does.
 */

/** An id: a JSON number (bigint beyond 2^53) or a digit string, as an exact decimal string. */
export const id = z
  .union([z.bigint(), z.number(), z.string()])
  .transform((value, ctx) => {
    const text = typeof value === 'number' ? (Number.isSafeInteger(value) ? String(value) : '') : String(value);
    if (!isIdString(text)) {
      ctx.addIssue({ code: 'custom', message: 'is not a decimal id' });
      return z.NEVER;
    }
    return text;
  });

/** A count: a non-negative integer; absent counts as 0. */
export const count = z.number().int().nonnegative().default(0);

/** Free text; absent or null becomes "". */
export const text = z.string().nullish().transform((value) => value ?? '');

export const user = z.object({
  user_id: id,
  name: text,
  avatar_url: text,
});

export type User = z.infer<typeof user>;

/** The contract's user shape, in a fixed key order. */
export function contractUser(u: User): { user_id: string; name: string; avatar_url: string } {
  return { user_id: u.user_id, name: u.name, avatar_url: u.avatar_url };
}
