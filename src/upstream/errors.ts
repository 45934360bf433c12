import { WarmerError, type ErrorCode } from '../shared/errors.js';

/**
 * Errors from the upstream. The message names the route (path without query)
 * and what went wrong; the got error, which holds the request headers and so
 * the token, is kept only as a non-enumerable `cause`.
 */
export class UpstreamError extends WarmerError {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** The envelope's business `code`, when the body said `succeeded: false`. */
  readonly upstreamCode: number | undefined;
  /** Whether trying the same request again may help. */
  readonly retryable: boolean;
  /** For throttling: how long the upstream asked us to wait, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { status?: number; upstreamCode?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(code, message, 'cause' in details ? { cause: details.cause } : undefined);
    this.status = details.status;
    this.upstreamCode = details.upstreamCode;
    this.retryable = details.retryable ?? false;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Known envelope codes (upstream-api.md, "Envelope"). */
export const ENVELOPE_CODES = {
  THROTTLED: 1059,
  PERMISSION_DENIED: 1030,
  MEMBERSHIP_EXPIRED: 14210,
  NOT_ENROLLED: 52010,
} as const;

const ENVELOPE_MEANING: Record<number, string> = {
  [ENVELOPE_CODES.THROTTLED]: 'anti-crawl throttling',
  [ENVELOPE_CODES.PERMISSION_DENIED]: 'permission denied',
  [ENVELOPE_CODES.MEMBERSHIP_EXPIRED]: 'membership expired',
  [ENVELOPE_CODES.NOT_ENROLLED]: 'not enrolled in that check-in',
};

export function envelopeError(route: string, code: number | undefined, status: number): UpstreamError {
  const meaning = code === undefined ? 'no code' : (ENVELOPE_MEANING[code] ?? 'unknown code');
  const text = `${route}: upstream answered succeeded=false, code ${code ?? 'none'} (${meaning})`;
  if (code === ENVELOPE_CODES.THROTTLED) {
    return new UpstreamError('ERR_UPSTREAM_THROTTLED', text, { status, upstreamCode: code, retryable: true });
  }
  return new UpstreamError('ERR_UPSTREAM_REJECTED', text, { status, upstreamCode: code, retryable: false });
}

/** Throttling (HTTP 429, envelope 1059): the whole queue backs off; no job fails for it. */
export function isThrottle(error: unknown): error is UpstreamError {
  return error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_THROTTLED';
}

export function isAuthFailure(error: unknown): error is UpstreamError {
  return error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_AUTH';
}
