import { KeyError } from './errors.js';

const DIGITS = /^[0-9]{1,20}$/;

/**
 * An upstream id as the exact decimal string. JSON numbers above 2^53 arrive
 * as bigint (see upstream/json.ts), safe ones as number; strings are accepted
 * when they hold only digits. Anything else is refused before it can become
 * part of a Redis key.
 */
export function toIdString(value: unknown, what = 'id'): string {
  let text: string | undefined;
  if (typeof value === 'bigint') text = value.toString();
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
  else if (typeof value === 'string') text = value;
  if (text === undefined || !DIGITS.test(text)) {
    throw new KeyError(`${what} is not a decimal id: ${JSON.stringify(typeof value === 'bigint' ? String(value) : value)?.slice(0, 40)}`);
  }
  return text;
}

export function isIdString(value: unknown): value is string {
  return typeof value === 'string' && DIGITS.test(value);
}
