import { isInteger, parse } from 'lossless-json';

/**
 * Parses an upstream body without losing digits: integers beyond 2^53 (topic
 * ids such as 82811825141841812) become bigint, every other number stays a
 * number. lossless-json also defines `__proto__` keys as plain properties
 * instead of invoking the prototype setter.
 */
export function parseUpstreamJson(text: string): unknown {
  return parse(text, null, parseNumber);
}

function parseNumber(digits: string): number | bigint {
  const value = Number(digits);
  if (Number.isSafeInteger(value) || !isInteger(digits)) return value;
  return BigInt(digits);
}
