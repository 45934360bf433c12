import type { ClientRequest, IncomingMessage } from 'node:http';
import got, { type Got } from 'got';
import { UpstreamError, envelopeError, isThrottle } from './errors.js';
import { decodeBody } from './body.js';
import { translateGotError } from './translate.js';
import { parseUpstreamJson } from './json.js';
import { AuthGate, ThrottleState } from './state.js';
import { InFlight } from './in-flight.js';
import type { RetryBudget } from './retry-budget.js';
import { failureClass, routeClass } from './route-class.js';

/**
 * Told of every HTTP attempt (metrics). Calls are synchronous and must not
 * throw; they never see a header value, a URL with ids or the token.
 */
export interface UpstreamObserver {
  /**
   * One attempt, retries counted apiece: its route class (the path template,
   * see routeClass) and its HTTP status, or `timeout`, `reset`, `network` or
   * `aborted` when it ended without a response.
   */
  attempt?(route: string, status: string): void;
  /** The token's remaining lifetime in seconds, from a successful answer's `x-expire-in`. */
  tokenExpiresIn?(seconds: number): void;
}

export interface UpstreamOptions {
  /** e.g. `https://api.zsxq.com`. */
  baseUrl: string;
  /** Read before every request, so a rotated token takes effect without a restart. */
  token: () => string;
  /** Time for one attempt, headers to last byte (a trickling body is cut off). @defaultValue 5000 */
  timeoutMs?: number;
  /** Time for one request, all attempts and backoff included. @defaultValue 8000 */
  deadlineMs?: number;
  /** Retries of one request after a 5xx, a reset or a timeout. @defaultValue 2 */
  retries?: number;
  /** First retry delay; doubles each time, with full jitter. @defaultValue 500 */
  retryBaseMs?: number;
  /** Bodies larger than this, counted after decompression, are cut off. @defaultValue 10 MiB */
  maxBodyBytes?: number;
  /** Longest wait a `Retry-After` may ask for. @defaultValue 60000 */
  maxRetryAfterMs?: number;
  /**
   * Requests in flight at once through this client, every caller together
   * (the jobs and batches a worker runs at once share it); more wait their
   * turn, in order. A deadline starts when the request is sent, not while it
   * waits. @defaultValue no cap
   */
  maxInFlight?: number;
  /** Aborts every request in flight (shutdown). */
  signal?: AbortSignal;
  /**
   * Waits for the fleet-wide rate limit before every attempt (see
   * limit/upstream-limiter.ts); the wait does not count against the deadline.
   */
  acquire?: (horizonMs: number, signal?: AbortSignal) => Promise<void>;
  /** Metrics. */
  observer?: UpstreamObserver;
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

export interface RequestOptions {
  /** Shared by the requests of one refresh: bounds the retries a whole refresh may make. */
  retryBudget?: RetryBudget;
  /** The caller's priority for the rate limit: how far ahead it may book a slot. @defaultValue 30000 */
  horizonMs?: number;
}

export interface Upstream {
  get(request: UpstreamRequest, options?: RequestOptions): Promise<UpstreamAnswer>;
  /** How many HTTP attempts were made (retries included). */
  readonly attempts: number;
  /** Closed after a 401 until the token changes: no request is sent meanwhile. */
  readonly auth: AuthGate;
  /** How long to back off after throttling, escalating while it repeats. */
  readonly throttle: ThrottleState;
  /** The last `x-expire-in` seen, in seconds. */
  readonly tokenExpiresInSeconds: number | undefined;
}

export const UPSTREAM_DEFAULTS = {
  timeoutMs: 5_000,
  deadlineMs: 8_000,
  retries: 2,
  retryBaseMs: 500,
  maxBodyBytes: 10 * 1024 * 1024,
  maxRetryAfterMs: 60_000,
} as const;

export function createUpstream(options: UpstreamOptions): Upstream {
  const o = { ...UPSTREAM_DEFAULTS, ...stripUndefined(options) };
  const auth = new AuthGate();
  const throttle = new ThrottleState(o.maxRetryAfterMs);
  let attempts = 0;
  let tokenExpiresInSeconds: number | undefined;

  const client: Got = got.extend({
    prefixUrl: o.baseUrl,
    // A redirect would carry the authorization header to wherever it points.
    followRedirect: false,
    // Decompressed here, not by got: got's progress events stop at the
    // compressed Content-Length, so they cannot bound a gzip bomb.
    decompress: false,
    responseType: 'buffer',
    timeout: { request: o.timeoutMs },
    retry: {
      limit: o.retries,
      methods: ['GET'],
      // 429 is not retried here: throttling backs off the whole queue instead.
      statusCodes: [500, 502, 503, 504],
      calculateDelay: ({ attemptCount, computedValue, error }) => {
        if (computedValue === 0) return 0;
        const budget = (error.options.context as { retryBudget?: RetryBudget }).retryBudget;
        if (budget && !budget.take()) return 0;
        // Full jitter: replicas that failed together do not retry together.
        // Never 0: got reads a delay of 0 as "do not retry".
        return 1 + Math.round(Math.random() * o.retryBaseMs * 2 ** (attemptCount - 1));
      },
    },
    headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br', 'user-agent': 'cache-warmer' },
    hooks: {
      // A retry is a request too: it waits for the rate limit like the first attempt.
      beforeRetry: [
        async (error) => {
          const context = error.options.context as { horizonMs?: number };
          await options.acquire?.(context.horizonMs ?? 30_000, o.signal);
        },
      ],
      beforeRequest: [
        (request) => {
          attempts += 1;
          request.headers.authorization = (request.context as { token: string }).token;
        },
      ],
    },
  });

  // Slots are taken after the rate limit: when the limit binds, few requests
  // are in flight and seldom wait for one. A retry keeps its slot while it
  // waits for the rate limit (beforeRetry).
  const inFlight = new InFlight(o.signal, o.maxInFlight);
  const notSent = (route: string, cause?: unknown) => new UpstreamError('ERR_ABORTED', `${route}: not sent, shutting down`, cause === undefined ? {} : { cause });

  async function get(request: UpstreamRequest, requestOptions: RequestOptions = {}): Promise<UpstreamAnswer> {
    const route = `GET ${request.path}`;
    auth.check(options.token(), route);
    try {
      await options.acquire?.(requestOptions.horizonMs ?? 30_000, o.signal);
    } catch (error) {
      if (o.signal?.aborted) throw notSent(route, error);
      throw new UpstreamError('ERR_UPSTREAM_NETWORK', `${route}: not sent, the rate limiter failed`, { retryable: true, cause: error });
    }
    if (o.signal?.aborted) throw notSent(route);
    return inFlight.whenFree(() => send(route, request, requestOptions));
  }

  async function send(route: string, request: UpstreamRequest, requestOptions: RequestOptions): Promise<UpstreamAnswer> {
    // Read again: the token may have been rotated, or refused, while this request waited for a slot.
    const token = options.token();
    auth.check(token, route);
    if (o.signal?.aborted) throw notSent(route);
    const searchParams = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) searchParams.set(name, String(value));

    const ticket = inFlight.start(o.deadlineMs);
    let tooLarge = false;
    let response;
    try {
      const pending = client.get(request.path.replace(/^\//, ''), {
        responseType: 'buffer',
        searchParams,
        signal: ticket.signal,
        context: {
          token,
          horizonMs: requestOptions.horizonMs ?? 30_000,
          ...(requestOptions.retryBudget ? { retryBudget: requestOptions.retryBudget } : {}),
        },
      });
      if (options.observer?.attempt) {
        const template = routeClass(request.path);
        // One ClientRequest per attempt (got emits 'request' for each retry too).
        pending.on('request', (attempt: ClientRequest) => observeAttempt(attempt, (status) => safely(() => options.observer?.attempt?.(template, status))));
      }
      // Raw bytes on the wire; the decompressed size is capped below.
      pending.on('downloadProgress', ({ transferred }) => {
        if (transferred > o.maxBodyBytes && !tooLarge) {
          tooLarge = true;
          pending.cancel();
        }
      });
      response = await pending;
    } catch (error) {
      if (tooLarge) {
        throw new UpstreamError('ERR_UPSTREAM_TOO_LARGE', `${route}: body over ${o.maxBodyBytes} bytes, cut off`, { cause: error });
      }
      if (o.signal?.aborted) throw new UpstreamError('ERR_ABORTED', `${route}: abandoned, shutting down`, { cause: error });
      if (ticket.timedOut()) {
        throw new UpstreamError('ERR_UPSTREAM_TIMEOUT', `${route}: no answer within ${o.deadlineMs} ms (retries included)`, { retryable: true, cause: error });
      }
      const translated = translateGotError(route, error, o.maxRetryAfterMs);
      if (translated.code === 'ERR_UPSTREAM_AUTH') auth.close(token);
      if (isThrottle(translated)) throttle.note(translated.retryAfterMs);
      throw translated;
    } finally {
      ticket.end();
    }
    if (response.statusCode >= 300) {
      throw new UpstreamError('ERR_UPSTREAM_HTTP', `${route}: HTTP ${response.statusCode} redirect not followed`, { status: response.statusCode });
    }
    const text = decodeBody(route, response.body, response.headers['content-encoding'], o.maxBodyBytes);
    let body: unknown;
    try {
      body = parseUpstreamJson(text);
    } catch (error) {
      throw new UpstreamError('ERR_UPSTREAM_BAD_BODY', `${route}: body is not valid JSON (${text.length} chars)`, {
        status: response.statusCode,
        cause: error,
      });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new UpstreamError('ERR_UPSTREAM_BAD_BODY', `${route}: body is not a JSON object`, { status: response.statusCode });
    }
    const envelope = body as { succeeded?: unknown; code?: unknown; resp_data?: unknown };
    const expire = Number(response.headers['x-expire-in']);
    if (Number.isFinite(expire)) {
      tokenExpiresInSeconds = expire;
      if (envelope.succeeded === true) safely(() => options.observer?.tokenExpiresIn?.(expire));
    }
    if (envelope.succeeded !== true) {
      const code = typeof envelope.code === 'number' ? envelope.code : undefined;
      const error = envelopeError(route, code, response.statusCode);
      if (isThrottle(error)) throttle.note(undefined);
      throw error;
    }
    auth.open(token);
    throttle.clear();
    return { data: envelope.resp_data, expireInSeconds: Number.isFinite(expire) ? expire : undefined };
  }

  return {
    get,
    auth,
    throttle,
    get attempts() {
      return attempts;
    },
    get tokenExpiresInSeconds() {
      return tokenExpiresInSeconds;
    },
  };
}

/**
 * Reports an attempt once: its status when the response headers arrive
 * (a body later cut off for its size still counts as that status), else
 * what closed it.
 */
function observeAttempt(request: ClientRequest, report: (status: string) => void): void {
  let failure: unknown;
  let done = false;
  request.once('response', (response: IncomingMessage) => {
    done = true;
    report(String(response.statusCode ?? 0));
  });
  // got handles the error; this listener only remembers what it was.
  request.on('error', (error) => (failure ??= error));
  request.once('close', () => {
    if (done) return;
    done = true;
    report(failure === undefined ? 'aborted' : failureClass(failure));
  });
}

function safely(call: () => void): void {
  try {
    call();
  } catch {
    // Metrics never fail a request.
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
