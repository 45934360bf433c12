import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { describeError } from '../shared/errors.js';
import { checkBearer } from './auth.js';
import type { Verdict } from './health.js';

/** What the routes need from the daemon. */
export interface HttpApp {
  liveness(): Verdict;
  readiness(): Promise<Verdict>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The document of `status --json`. */
  status(): Promise<unknown>;
  /** Whether a job is configured, and enabled. */
  job(name: string): 'enabled' | 'disabled' | undefined;
  /** Queues a one-off refresh (deduplicated while one is waiting or running). */
  refresh(job: string): Promise<{ jobId: string; deduplicated: boolean }>;
  /** The admin token now ('' when none is configured). */
  adminToken(): string;
  /** The status page: a complete HTML document, and the headers it must be sent with (its CSP). */
  page(): { html: string; headers: Readonly<Record<string, string>> };
}

/** Largest request body read (POST /refresh/{job} takes none; a small one is tolerated and ignored). */
export const MAX_BODY_BYTES = 1_024;
/** Longest request target accepted. */
const MAX_URL_LENGTH = 2_048;

type Handler = (req: IncomingMessage, res: ServerResponse, param: string) => Promise<void> | void;
interface Route {
  /** A fixed path, or a prefix ending in `/` whose remainder is one path segment (the param). */
  path: string;
  methods: Record<string, Handler>;
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendVerdict(res: ServerResponse, verdict: Verdict): void {
  sendJson(res, verdict.ok ? 200 : 503, verdict);
}

/** Reads at most MAX_BODY_BYTES and ignores them; false (and a 413 sent) when the body is larger. */
async function drainSmallBody(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > MAX_BODY_BYTES) {
    sendJson(res, 413, { error: `request body over ${MAX_BODY_BYTES} bytes` }, { connection: 'close' });
    return false;
  }
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      sendJson(res, 413, { error: `request body over ${MAX_BODY_BYTES} bytes` }, { connection: 'close' });
      return false;
    }
  }
  return true;
}

/**
 * The routes of the daemon's HTTP server (no framework: a table). Every
 * route answers 405 with `Allow` to another method, anything else is 404,
 * and nothing reads a request body except POST /refresh/{job} (bounded).
 */
export function createRouter(app: HttpApp, logger: Logger): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const getOnly = (handler: Handler): Record<string, Handler> => ({ GET: handler, HEAD: handler });

  const routes: Route[] = [
    { path: '/healthz', methods: getOnly((_req, res) => sendVerdict(res, app.liveness())) },
    { path: '/readyz', methods: getOnly(async (_req, res) => sendVerdict(res, await app.readiness())) },
    {
      path: '/metrics',
      methods: getOnly(async (_req, res) => {
        const { contentType, body } = await app.metrics();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }),
    },
    {
      path: '/status',
      methods: getOnly(async (_req, res) => {
        try {
          sendJson(res, 200, await app.status());
        } catch (error) {
          sendJson(res, 503, { error: `status unavailable: ${describeError(error)}` });
        }
      }),
    },
    {
      path: '/',
      methods: getOnly((_req, res) => {
        const { html, headers } = app.page();
        res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(html) });
        res.end(html);
      }),
    },
    {
      path: '/refresh/',
      methods: {
        POST: async (req, res, job) => {
          if (!(await drainSmallBody(req, res))) return;
          const auth = checkBearer(req.headers.authorization, app.adminToken());
          if (auth === 'disabled') {
            sendJson(res, 403, { error: 'admin routes are disabled: set http.adminToken (HTTP_ADMIN_TOKEN or HTTP_ADMIN_TOKEN_FILE)' });
            return;
          }
          if (auth !== 'ok') {
            // Same answer for a missing and a wrong token: nothing to learn from the difference.
            sendJson(res, 401, { error: 'a valid admin token is required (Authorization: Bearer …)' }, { 'www-authenticate': 'Bearer realm="cache-warmer"' });
            return;
          }
          const state = app.job(job);
          if (state === undefined) {
            sendJson(res, 404, { error: `no job "${job}"` });
            return;
          }
          if (state === 'disabled') {
            sendJson(res, 409, { error: `job "${job}" is disabled in this daemon's configuration` });
            return;
          }
          try {
            const queued = await app.refresh(job);
            logger.info({ job, jobId: queued.jobId, deduplicated: queued.deduplicated }, 'manual refresh requested over HTTP');
            sendJson(res, 202, { job, ...queued });
          } catch (error) {
            logger.warn({ job, err: error }, 'manual refresh could not be queued');
            sendJson(res, 503, { error: `refresh not queued: ${describeError(error)}` });
          }
        },
      },
    },
  ];

  return async (req, res) => {
    const started = Date.now();
    const method = req.method ?? 'GET';
    let path = '';
    try {
      if ((req.url ?? '').length > MAX_URL_LENGTH) {
        sendJson(res, 414, { error: 'request target too long' });
        return;
      }
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const match = findRoute(routes, path);
      // A body nobody reads is not drained either: the connection closes after the answer.
      if (!(match && match.route.path === '/refresh/' && method === 'POST') && hasBody(req)) res.setHeader('connection', 'close');
      if (!match) {
        sendJson(res, 404, { error: 'not found' });
        return;
      }
      const handler = match.route.methods[method];
      if (!handler) {
        sendJson(res, 405, { error: `method ${method} not allowed` }, { allow: Object.keys(match.route.methods).join(', ') });
        return;
      }
      await handler(req, res, match.param);
    } catch (error) {
      logger.warn({ err: error, method, path }, 'http request failed');
      if (!res.headersSent) sendJson(res, 500, { error: describeError(error) });
      else res.destroy();
    } finally {
      logger.debug({ method, path, status: res.statusCode, ms: Date.now() - started }, 'http request');
    }
  };
}

function hasBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

function findRoute(routes: readonly Route[], path: string): { route: Route; param: string } | undefined {
  for (const route of routes) {
    if (!route.path.endsWith('/') || route.path === '/') {
      if (path === route.path) return { route, param: '' };
      continue;
    }
    if (!path.startsWith(route.path)) continue;
    let param: string;
    try {
      param = decodeURIComponent(path.slice(route.path.length));
    } catch {
      return undefined;
    }
    // One segment of sensible characters: a job name, never a path.
    if (/^[A-Za-z0-9_.@-]{1,100}$/.test(param)) return { route, param };
  }
  return undefined;
}
