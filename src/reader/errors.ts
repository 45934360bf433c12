import { WarmerError } from '../shared/errors.js';

/**
 * A warmed key holds something that is not the contract's value: not JSON,
 * not an object, no readable `cached_at`, an id that is not a decimal string,
 * or not a string at all. The message names the key and the field, never the
 * value (a reader must not echo arbitrary stored text into an app's logs).
 */
export class ReaderError extends WarmerError {
  declare readonly code: 'ERR_READER_BAD_VALUE';
  readonly key: string;

  // The cause is non-enumerable (WarmerError): a JSON SyntaxError quotes the
  // stored text, and ioredis errors carry the command's arguments.
  constructor(key: string, problem: string, options?: { cause?: unknown }) {
    super('ERR_READER_BAD_VALUE', `key ${key}: ${problem}`, options);
    this.key = key;
  }
}

export function isReaderError(error: unknown): error is ReaderError {
  return error instanceof ReaderError;
}
