import got, { HTTPError, RequestError, TimeoutError, type Got } from 'got';
import { UpstreamError, envelopeError } from './errors.js';
import { parseUpstreamJson } from './json.js';

export interface UpstreamOptions {
  /** e.g. `https://api.zsxq.com`. */
  baseUrl: string;
  /** Read on every request, so a rotated token takes effect without a restart. */
  token: () => string;
  /** Overall time for one attempt, headers to last byte. @defaultValue 15000 */
  timeoutMs?: number;
  /** Retries of one request after a transient failure (5xx, reset, timeout). @defaultValue 2 */
  retries?: number;
  /** First retry delay; doubles each time, with full jitter. @defaultValue 500 */
  retryBaseMs?: number;
}

export interface UpstreamRequest {
  path: string;
  query?: Record<string, string | number>;
}

export interface UpstreamAnswer {
  /** The envelope's `resp_data`, parsed without losing big integers. */
  data: unknown;
  /** The token's remaining lifetime in seconds (`x-expire-in`), when sent. */
  expireInSeconds: number | undefined;
}

export interface Upstream {
  get(request: UpstreamRequest): Promise<UpstreamAnswer>;
  /** How many HTTP attempts were made (retries included): for status and benchmarks. */
  readonly attempts: number;
}

/** Routes for messages: ids are not secret, but the query is left out to keep messages short. */
function routeOf(path: string): string {
  return `GET ${path}`;
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const retries = options.retries ?? 2;
  const retryBaseMs = options.retryBaseMs ?? 500;
  let attempts = 0;

  const client: Got = got.extend({
    prefixUrl: options.baseUrl,
    // A redirect would carry the authorization header to wherever it points.
    followRedirect: false,
    responseType: 'text',
    timeout: { request: timeoutMs },
    retry: {
      limit: retries,
      methods: ['GET'],
      statusCodes: [500, 502, 503, 504],
      // Full jitter: replicas that failed together do not retry together.
      calculateDelay: ({ attemptCount, computedValue }) =>
        computedValue === 0 ? 0 : Math.round(Math.random() * retryBaseMs * 2 ** (attemptCount - 1)),
    },
    headers: { accept: 'application/json', 'user-agent': 'cache-warmer' },
    hooks: {
      beforeRequest: [
        (request) => {
          attempts += 1;
          request.headers.authorization = options.token();
        },
      ],
    },
  });

  async function get(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const route = routeOf(request.path);
    const searchParams = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) searchParams.set(name, String(value));
    let response;
    try {
      response = await client.get(request.path.replace(/^\//, ''), { searchParams });
    } catch (error) {
      throw translate(route, error);
    }
    if (response.statusCode >= 300) {
      throw new UpstreamError('ERR_UPSTREAM_HTTP', `${route}: HTTP ${response.statusCode} redirect not followed`, {
        status: response.statusCode,
      });
    }
    let body: unknown;
    try {
      body = parseUpstreamJson(response.body);
    } catch (error) {
      throw new UpstreamError('ERR_UPSTREAM_BAD_BODY', `${route}: body is not valid JSON (${response.body.length} chars)`, {
        status: response.statusCode,
        cause: error,
      });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new UpstreamError('ERR_UPSTREAM_BAD_BODY', `${route}: body is not a JSON object`, { status: response.statusCode });
    }
    const envelope = body as { succeeded?: unknown; code?: unknown; resp_data?: unknown };
    if (envelope.succeeded !== true) {
      const code = typeof envelope.code === 'number' ? envelope.code : undefined;
      throw envelopeError(route, code, response.statusCode);
    }
    const expire = Number(response.headers['x-expire-in']);
    return { data: envelope.resp_data, expireInSeconds: Number.isFinite(expire) ? expire : undefined };
  }

  return {
    get,
    get attempts() {
      return attempts;
    },
  };
}

function translate(route: string, error: unknown): UpstreamError {
  if (error instanceof HTTPError) {
    const status = error.response.statusCode;
    if (status === 401) {
      return new UpstreamError('ERR_UPSTREAM_AUTH', `${route}: HTTP 401, the upstream token is expired or revoked`, { status, cause: error });
    }
    if (status === 429) {
      return new UpstreamError('ERR_UPSTREAM_THROTTLED', `${route}: HTTP 429, rate limited by the upstream`, {
        status,
        retryable: true,
        retryAfterMs: parseRetryAfter(error.response.headers['retry-after']),
        cause: error,
      });
    }
    return new UpstreamError('ERR_UPSTREAM_HTTP', `${route}: HTTP ${status}`, { status, retryable: status >= 500, cause: error });
  }
  if (error instanceof TimeoutError) {
    return new UpstreamError('ERR_UPSTREAM_TIMEOUT', `${route}: timed out (${error.event})`, { retryable: true, cause: error });
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
