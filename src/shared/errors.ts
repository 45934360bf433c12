/**
 * The error tree. Every error the warmer raises on purpose carries a stable
 * `code` that logs, the status store and tests can match on; messages are
 * written to be read by an operator and never carry a secret (they are built
 * from our own words and values we chose, not from a library's message).
 */
export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_USAGE'
  | 'ERR_DEFINITION'
  | 'ERR_KEY_INVALID'
  | 'ERR_UPSTREAM_HTTP'
  | 'ERR_UPSTREAM_AUTH'
  | 'ERR_UPSTREAM_THROTTLED'
  | 'ERR_UPSTREAM_REJECTED'
  | 'ERR_UPSTREAM_NETWORK'
  | 'ERR_UPSTREAM_TIMEOUT'
  | 'ERR_UPSTREAM_BAD_BODY'
  | 'ERR_UPSTREAM_SHAPE'
  | 'ERR_UPSTREAM_TOO_LARGE'
  | 'ERR_ABORTED'
  | 'ERR_REFRESH_PARTIAL'
  | 'ERR_CACHE'
  | 'ERR_READER_BAD_VALUE';

export class WarmerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (options && 'cause' in options) {
      // Non-enumerable: a library's error (got, ioredis) holds requests and
      // command arguments; it must not be walked by a serializer by accident.
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: true, configurable: true });
    }
  }
}

/** Invalid configuration: the program stops before touching Redis. */
export class ConfigError extends WarmerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}

/** Bad command-line usage: exit code 2. */
export class UsageError extends WarmerError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** A job definition in jobs/ that does not parse: fails at start, naming file and field. */
export class DefinitionError extends WarmerError {
  constructor(message: string) {
    super('ERR_DEFINITION', message);
  }
}

/** A value that would become part of a Redis key is not what the key template allows. */
export class KeyError extends WarmerError {
  constructor(message: string) {
    super('ERR_KEY_INVALID', message);
  }
}

/** Some items of a fan-out failed while others were written. */
export class PartialRefreshError extends WarmerError {
  readonly failed: number;
  readonly total: number;

  constructor(failed: number, total: number, first: Error) {
    super('ERR_REFRESH_PARTIAL', `${failed} of ${total} items failed; first: ${first.message}`, { cause: first });
    this.failed = failed;
    this.total = total;
  }
}

export function isWarmerError(error: unknown): error is WarmerError {
  return error instanceof WarmerError;
}

/** A short, secret-free one-liner for any thrown value (for logs and the status store). */
export function describeError(error: unknown): string {
  if (error instanceof WarmerError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.name}` : error.name;
  }
  return 'unknown error';
}
