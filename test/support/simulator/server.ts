/**
 * The upstream simulator: a real node:http server on 127.0.0.1 speaking the check-in API
 * of /work/shared/upstream-api.md over generated data, with injectable faults.
 * Tests, the benchmark and the demo all run against it instead of mocking HTTP.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { generateData, parseTime, wireCheckin, wireTopic, wireUser, type SimulatorData } from './data.js';
import { encodeJson, FaultBook, plainFaultAnswer, streamPadded, trickle, type Fault, type RouteName } from './faults.js';

export type { Fault, RouteName } from './faults.js';
export type { SimulatorData, SimProject, SimTopic, SimUser, SimRankingEntry, Scope, RankingType } from './data.js';

export interface SimulatorOptions {
  /** Check-in projects in the group. @defaultValue 50 */
  projects?: number;
  /** PRNG seed of the generated data. @defaultValue 1 */
  seed?: number;
  /** The accepted `authorization` header value. @defaultValue 'sim-token' */
  token?: string;
  /** Decimal group id. @defaultValue '15555411412112' */
  groupId?: string;
  /** Delay added before every response. @defaultValue 0 */
  latencyMs?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** Leaderboard page size. @defaultValue 20 */
  rankingPageSize?: number;
  /** Value of the `x-expire-in` header. @defaultValue 2592000 (30 days) */
  expireInSeconds?: number;
}

export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Whether the authorization header matched; the header value itself is never stored. */
  authorized: boolean;
  /** 0 while pending, and for requests answered with a reset or never answered. */
  status: number;
  route: RouteName;
}

export interface Simulator {
  url: string;
  port: number;
  options: Required<SimulatorOptions>;
  /** Mutable: tests may change it (delete a project, add topics) and the next request sees it. */
  data: SimulatorData;
  requests: RequestRecord[];
  /** Requests being answered right now, and the most at once since the last resetRequests(). */
  inFlight: number;
  maxInFlight: number;
  count(route?: RouteName): number;
  resetRequests(): void;
  setToken(token: string): void;
  fault(f: Fault): void;
  clearFaults(): void;
  /** Closes the server and destroys every open socket, including hanging and trickling ones. */
  close(): Promise<void>;
}

const SCOPES = new Set(['ongoing', 'closed', 'over']);
const RANKING_TYPES = new Set(['continuous', 'accumulated']);
const SUB_ROUTES: Record<string, RouteName> = {
  '': 'project',
  '/statistics': 'statistics',
  '/statistics/daily': 'daily',
  '/ranking_list': 'ranking',
  '/topics': 'topics',
};
const PATH_RE = /^\/v2\/groups\/(\d+)\/checkins(?:\/(\d+)(\/statistics|\/statistics\/daily|\/ranking_list|\/topics)?)?$/;

interface Target {
  route: RouteName;
  groupId?: string;
  projectId?: string;
}

function resolveTarget(pathname: string): Target {
  const m = PATH_RE.exec(pathname);
  if (m === null) return { route: 'unknown' };
  const [, groupId, projectId, sub = ''] = m;
  return projectId === undefined ? { route: 'projects', groupId } : { route: SUB_ROUTES[sub]!, groupId, projectId };
}

interface Answer {
  status: number;
  body: unknown;
}

const ok = (respData: unknown): Answer => ({ status: 200, body: { succeeded: true, resp_data: respData } });
const failure = (code: number, error: string, status = 200): Answer => ({ status, body: { succeeded: false, code, error } });

/** `undefined` when present but not an integer in min..max; `fallback` when absent. */
function intParam(raw: string | undefined, fallback: number, min: number, max: number): number | undefined {
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

/** Items strictly older than the `end_time` cursor, newest first; null when the cursor is not a timestamp. */
function olderThan<T extends { create_time: string }>(items: readonly T[], endTime: string | undefined): T[] | null {
  const end = endTime === undefined ? Infinity : parseTime(endTime);
  if (end === undefined) return null;
  const timed = items.map((item) => ({ item, at: parseTime(item.create_time) ?? 0 }));
  return timed.filter((t) => t.at < end).sort((a, b) => b.at - a.at).map((t) => t.item);
}

/** The normal (unfaulted) answer: auth, then method, then routing, then the endpoint itself. */
function answer(sim: Simulator, token: string, req: IncomingMessage, target: Target, q: Record<string, string>): Answer {
  if (req.headers.authorization !== token) return failure(401, 'unauthorized', 401);
  if (req.method !== 'GET') return failure(405, 'method not allowed', 405);
  const { data, options } = sim;
  if (target.route === 'unknown' || target.groupId !== data.group.group_id) return failure(404, 'not found', 404);

  if (target.route === 'projects') {
    if (q.scope === undefined || !SCOPES.has(q.scope)) return failure(400, 'bad scope');
    const count = intParam(q.count, 20, 1, 100);
    if (count === undefined) return failure(400, 'bad count');
    const listed = olderThan(data.projects.filter((p) => p.status === q.scope && !p.deleted), q.end_time);
    if (listed === null) return failure(400, 'bad end_time');
    return ok({ checkins: listed.slice(0, count).map((p) => wireCheckin(p, data)) });
  }

  const project = data.projects.find((p) => p.checkin_id === target.projectId && !p.deleted);
  // The real API answers an empty resp_data for a deleted or unknown project (observed on detail).
  if (project === undefined) return ok({});
  switch (target.route) {
    case 'project':
      return ok({ is_valid_member: true, checkin: wireCheckin(project, data), group: { name: data.group.name } });
    case 'statistics': {
      const leaders = project.rankings.accumulated.slice(0, 3).map((e) => ({ avatar_url: e.user.avatar_url }));
      return ok({ statistics: { ...project.stats, ranking_list: leaders } });
    }
    case 'daily':
      if (q.date === undefined || parseTime(q.date) === undefined) return failure(400, 'bad date');
      return ok({ checkined_count: project.daily.checkined_count });
    case 'ranking': {
      if (q.type === undefined || !RANKING_TYPES.has(q.type)) return failure(400, 'bad type');
      const index = intParam(q.index, 0, 0, 1_000_000);
      if (index === undefined) return failure(400, 'bad index');
      const size = options.rankingPageSize;
      const page = project.rankings[q.type as 'continuous' | 'accumulated'].slice(index * size, (index + 1) * size);
      return ok({
        ranking_list: page.map((e) => ({ user: wireUser(e.user), rankings: e.rankings, checkined_days: e.checkined_days })),
        user_specific: { user: wireUser(data.me), rankings: 0, checkined_days: 0 },
      });
    }
    default: {
      const count = intParam(q.count, 20, 1, 30);
      if (count === undefined) return failure(400, 'bad count');
      const older = olderThan(project.topics, q.end_time);
      if (older === null) return failure(400, 'bad end_time');
      return ok({ topics: older.slice(0, count).map((t) => wireTopic(t, project, data)) });
    }
  }
}

const gzipAsync = promisify(gzip);

function resolveOptions(opts: SimulatorOptions): Required<SimulatorOptions> {
  const o: Required<SimulatorOptions> = {
    projects: opts.projects ?? 50,
    seed: opts.seed ?? 1,
    token: opts.token ?? 'sim-token',
    groupId: opts.groupId ?? '15555411412112',
    latencyMs: opts.latencyMs ?? 0,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    rankingPageSize: opts.rankingPageSize ?? 20,
    expireInSeconds: opts.expireInSeconds ?? 2_592_000,
  };
  const bad = (field: string, value: unknown): never => {
    throw new RangeError(`startSimulator: ${field} ${JSON.stringify(value)} is invalid`);
  };
  if (!(o.latencyMs >= 0 && Number.isFinite(o.latencyMs))) bad('latencyMs', o.latencyMs);
  if (!(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) bad('port', o.port);
  if (!(Number.isInteger(o.rankingPageSize) && o.rankingPageSize >= 1)) bad('rankingPageSize', o.rankingPageSize);
  if (o.token === '') bad('token', o.token);
  return o; // projects and groupId are checked by generateData
}

/** Starts the simulator; resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const options = resolveOptions(opts);
  const data = generateData({ projects: options.projects, seed: options.seed, groupId: options.groupId });
  const faults = new FaultBook();
  const sockets = new Set<Socket>();
  // Every timer the simulator starts, so close() can cancel them all and never wait on one.
  const timers = new Map<NodeJS.Timeout, () => void>();
  let closed = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.set(timer, resolve);
    });
  const every = (ms: number, tick: () => void): (() => void) => {
    const timer = setInterval(tick, ms);
    const stop = (): void => {
      clearInterval(timer);
      timers.delete(timer);
    };
    timers.set(timer, stop);
    return stop;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const query = Object.fromEntries(url.searchParams);
    const target = resolveTarget(url.pathname);
    const authorized = req.headers.authorization === options.token;
    const record: RequestRecord = { at: Date.now(), method: req.method ?? '', path: url.pathname, query, authorized, status: 0, route: target.route };
    sim.requests.push(record);
    sim.inFlight += 1;
    sim.maxInFlight = Math.max(sim.maxInFlight, sim.inFlight);
    res.once('close', () => (sim.inFlight -= 1));
    res.on('error', () => undefined); // a client hanging up mid-answer is routine here
    res.setHeader('content-type', 'application/json; charset=UTF-8');
    res.setHeader('x-expire-in', String(options.expireInSeconds));

    if (options.latencyMs > 0) await sleep(options.latencyMs);
    const fault = faults.take(target.route, target.projectId);
    if (fault?.kind === 'delay') await sleep(fault.ms);
    if (closed || res.destroyed) return;

    const acceptsGzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    const mode = { proto: fault?.kind === 'proto', badIds: fault?.kind === 'bad-id' };
    switch (fault?.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'huge':
      case 'gzip-bomb':
        record.status = 200;
        streamPadded(res, fault.bytes, fault.kind === 'gzip-bomb');
        return;
      case 'trickle': {
        record.status = 200;
        const normal = answer(sim, options.token, req, target, query);
        trickle(res, Buffer.from(encodeJson(normal.body)), fault.bytesPerSecond ?? 10, every);
        return;
      }
      default:
        break;
    }
    const plain = fault === undefined ? undefined : plainFaultAnswer(fault, target.route);
    const normal = plain === undefined ? answer(sim, options.token, req, target, query) : undefined;
    const status = plain?.status ?? normal!.status;
    const text = plain?.body ?? encodeJson(normal!.body, mode);
    let body = Buffer.from(text);
    const headers: Record<string, string> = { ...plain?.headers };
    if (acceptsGzip) {
      body = await gzipAsync(body);
      headers['content-encoding'] = 'gzip';
      if (closed || res.destroyed) return;
    }
    headers['content-length'] = String(body.length);
    record.status = status;
    res.writeHead(status, headers);
    res.end(body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // A bug in the simulator must surface as a plain 500, never as an unhandled rejection.
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end('{"succeeded":false,"code":500,"error":"simulator error"}');
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('startSimulator: server has no TCP address');
  const hostInUrl = options.host.includes(':') ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  const sim: Simulator = {
    url: `http://${hostInUrl}:${address.port}`,
    port: address.port,
    options,
    data,
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    count: (route) => (route === undefined ? sim.requests.length : sim.requests.filter((r) => r.route === route).length),
    resetRequests: () => {
      sim.requests = [];
      sim.maxInFlight = sim.inFlight;
    },
    setToken: (token) => {
      options.token = token;
    },
    fault: (f) => faults.add(f),
    clearFaults: () => faults.clear(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        // Cancel every timer; resolving the sleeps lets their handlers see `closed` and stop.
        for (const [timer, release] of timers) {
          clearTimeout(timer);
          release();
        }
        timers.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
  return sim;
}
