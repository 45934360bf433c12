import { CancelError, HTTPError, RequestError, TimeoutError } from 'got';
import { UpstreamError } from './errors.js';

/** A got error as an UpstreamError: our own words, the got error (with its headers) only as a hidden cause. */
export function translateGotError(route: string, error: unknown, maxRetryAfterMs: number): UpstreamError {
  if (error instanceof HTTPError) {
    const status = error.response.statusCode;
    if (status === 401) {
      return new UpstreamError('ERR_UPSTREAM_AUTH', `${route}: HTTP 401, the upstream token is expired or revoked`, { status, cause: error });
    }
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(error.response.headers['retry-after']);
      return new UpstreamError('ERR_UPSTREAM_THROTTLED', `${route}: HTTP 429, rate limited by the upstream`, {
        status,
        retryable: true,
        ...(retryAfterMs !== undefined ? { retryAfterMs: Math.min(retryAfterMs, maxRetryAfterMs) } : {}),
        cause: error,
      });
    }
    return new UpstreamError('ERR_UPSTREAM_HTTP', `${route}: HTTP ${status}`, { status, retryable: status >= 500, cause: error });
  }
  if (error instanceof TimeoutError) {
    return new UpstreamError('ERR_UPSTREAM_TIMEOUT', `${route}: timed out (${error.event})`, { retryable: true, cause: error });
  }
  if (error instanceof CancelError) {
    return new UpstreamError('ERR_ABORTED', `${route}: cancelled`, { cause: error });
  }
  if (error instanceof RequestError) {
    return new UpstreamError('ERR_UPSTREAM_NETWORK', `${route}: ${error.code ?? 'request failed'}`, { retryable: true, cause: error });
  }
  return new UpstreamError('ERR_UPSTREAM_NETWORK', `${route}: request failed`, { retryable: true, cause: error });
}

/** `Retry-After` is seconds or an HTTP date. */
export function parseRetryAfter(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
