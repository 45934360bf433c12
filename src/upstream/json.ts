import { isInteger, parse } from 'lossless-json';

/**
 * Parses an upstream body without losing digits: integers beyond 2^53 (topic
 * ids such as 82811825141841812) become bigint, every other number stays a
 * number. lossless-json also defines `__proto__` keys as plain properties
 * instead of invoking the prototype setter.
 */
export function parseUpstreamJson(text: string): unknown {
  // Fast path: an integer above 2^53 needs at least 16 digits. A body with no
  // run of 16 digits anywhere has none, and JSON.parse (several times faster)
  // reads it exactly; it, too, defines `__proto__` as a plain own property.
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text) as unknown;
  return parse(text, null, parseNumber);
}

const LONG_DIGIT_RUN = /\d{16}/;

function parseNumber(digits: string): number | bigint {
  const value = Number(digits);
  if (Number.isSafeInteger(value) || !isInteger(digits)) return value;
  return BigInt(digits);
}
