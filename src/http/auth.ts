import { createHash, timingSafeEqual } from 'node:crypto';

export type BearerCheck = 'disabled' | 'missing' | 'wrong' | 'ok';

/**
 * Checks `Authorization: Bearer <token>` against the admin token. Both sides
 * are hashed first, so the comparison takes the same time whatever the
 * lengths and wherever they differ (timingSafeEqual needs equal lengths).
 * `disabled` when no admin token is configured: nothing may change state then.
 */
export function checkBearer(header: string | undefined, adminToken: string): BearerCheck {
  if (!adminToken) return 'disabled';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  if (!match) return 'missing';
  return timingSafeEqual(digest(match[1]!), digest(adminToken)) ? 'ok' : 'wrong';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
