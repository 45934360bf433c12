/**
 * Fault injection for the upstream simulator: the rule book (which request gets which
 * fault), the bodies of the simple faults, the streaming misbehaviours, and the JSON
 * encoder whose fault modes inject `__proto__` keys or corrupt ids.
 */
import type { ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { WireId } from './data.js';

export type RouteName = 'projects' | 'project' | 'statistics' | 'daily' | 'ranking' | 'topics' | 'unknown';

export type Fault = {
  /** Routes the fault applies to; all routes when absent. */
  route?: RouteName | RouteName[];
  /** Only requests whose path names this check-in id; requests without one never match. */
  projectId?: string;
  /** Applies to the next N matching requests. @defaultValue Infinity */
  times?: number;
} & (
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'envelope'; code: number; error?: string }
  | { kind: 'invalid-json' }
  /** A valid envelope whose resp_data has the wrong shape (e.g. `checkins` is a string). */
  | { kind: 'wrong-shape' }
  | { kind: 'delay'; ms: number }
  /** Destroys the socket without a response. */
  | { kind: 'reset' }
  /** Never answers (until the client gives up or the simulator closes). */
  | { kind: 'hang' }
  /** Sends headers, then the body one byte at a time, then spaces forever. @defaultValue bytesPerSecond 10 */
  | { kind: 'trickle'; bytesPerSecond?: number }
  /** A valid JSON body of exactly `bytes` bytes (never gzip-encoded, so the size is what arrives). */
  | { kind: 'huge'; bytes: number }
  /** `content-encoding: gzip` inflating to `bytes` bytes of valid JSON, streamed, sent whatever accept-encoding says. */
  | { kind: 'gzip-bomb'; bytes: number }
  | { kind: 'redirect'; location: string }
  /** Answers `{"succeeded":true,"resp_data":{}}`, as the real detail endpoint does for a deleted project. */
  | { kind: 'deleted' }
  /** The normal body with a `"__proto__"` key injected into every object. */
  | { kind: 'proto' }
  /** The normal body with every id replaced by a string such as `"1:evil*"`. */
  | { kind: 'bad-id' }
);

export type FaultKind = Fault['kind'];

/** Caps `huge` and `gzip-bomb` so a typo cannot make a test stream for hours. */
const MAX_FAULT_BYTES = 2 ** 33; // 8 GiB

function check(ok: boolean, fault: Fault, message: string): void {
  if (!ok) throw new RangeError(`simulator fault ${JSON.stringify(fault)}: ${message}`);
}

function validate(f: Fault): void {
  const times = f.times ?? Infinity;
  check(times === Infinity || (Number.isInteger(times) && times >= 0), f, 'times must be a non-negative integer');
  switch (f.kind) {
    case 'status':
      check(Number.isInteger(f.status) && f.status >= 200 && f.status <= 599, f, 'status must be 200..599');
      break;
    case 'delay':
      check(Number.isFinite(f.ms) && f.ms >= 0, f, 'ms must be a finite number >= 0');
      break;
    case 'trickle':
      check(f.bytesPerSecond === undefined || f.bytesPerSecond > 0, f, 'bytesPerSecond must be > 0');
      break;
    case 'huge':
    case 'gzip-bomb':
      check(Number.isInteger(f.bytes) && f.bytes >= 0 && f.bytes <= MAX_FAULT_BYTES, f, `bytes must be 0..${MAX_FAULT_BYTES}`);
      break;
    default:
      break;
  }
}

/** Fault rules in the order added; the first matching rule with uses left wins. */
export class FaultBook {
  private rules: Array<{ fault: Fault; left: number }> = [];

  add(fault: Fault): void {
    validate(fault);
    // Copied so a caller reusing its fault object cannot change a rule already in force.
    this.rules.push({ fault: { ...fault }, left: fault.times ?? Infinity });
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault for this request, if any, using up one of its `times`. */
  take(route: RouteName, projectId: string | undefined): Fault | undefined {
    for (const rule of this.rules) {
      if (rule.left <= 0) continue;
      const routes = rule.fault.route;
      if (routes !== undefined && !(Array.isArray(routes) ? routes.includes(route) : routes === route)) continue;
      if (rule.fault.projectId !== undefined && rule.fault.projectId !== projectId) continue;
      rule.left -= 1;
      return rule.fault;
    }
    return undefined;
  }
}

export interface EncodeMode {
  /** Inject `"__proto__"` into every object. */
  proto?: boolean;
  /** Replace every id by a distinct hostile string. */
  badIds?: boolean;
}

const JSON_INTEGER = /^(0|[1-9]\d{0,19})$/;
const MAX_DEPTH = 32; // our wire objects are shallow; deeper means a cycle a test created

/** JSON.stringify, except WireIds keep every digit (JSON.stringify cannot write a number > 2^53 exactly). */
export function encodeJson(value: unknown, mode: EncodeMode = {}): string {
  let badCount = 0;
  const encode = (v: unknown, depth: number): string => {
    if (depth > MAX_DEPTH) throw new RangeError(`simulator encodeJson: deeper than ${MAX_DEPTH} levels`);
    if (v instanceof WireId) {
      if (mode.badIds) return JSON.stringify(`${++badCount}:evil*`);
      // A test may have put a non-numeric id into the data: keep the output valid JSON.
      return v.quoted || !JSON_INTEGER.test(v.digits) ? JSON.stringify(v.digits) : v.digits;
    }
    if (Array.isArray(v)) return `[${v.map((x) => encode(x, depth + 1)).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const parts = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${encode(x, depth + 1)}`);
      if (mode.proto) parts.unshift('"__proto__":{"polluted":true,"isAdmin":true}');
      return `{${parts.join(',')}}`;
    }
    return JSON.stringify(v) ?? 'null';
  };
  return encode(value, 0);
}

/** resp_data of a plausible but wrong shape, per route: what a changed upstream might send. */
const WRONG_SHAPES: Record<RouteName, unknown> = {
  projects: { checkins: 'not-a-list' },
  project: { is_valid_member: true, checkin: 'not-an-object', group: { name: '示例星球' } },
  statistics: { statistics: ['not', 'an', 'object'] },
  daily: { checkined_count: 'three' },
  ranking: { ranking_list: { rankings: 1 } },
  topics: { topics: 'not-a-list' },
  unknown: 'not-an-object',
};

export interface PlainAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The answer of a fault that is just a different status, headers or body; undefined for the others. */
export function plainFaultAnswer(f: Fault, route: RouteName): PlainAnswer | undefined {
  switch (f.kind) {
    case 'status':
      return {
        status: f.status,
        headers: f.retryAfter === undefined ? {} : { 'retry-after': f.retryAfter },
        body: f.body ?? encodeJson({ succeeded: false, code: f.status, error: `simulated HTTP ${f.status}` }),
      };
    case 'envelope':
      // Business failures are HTTP 200, exactly as the real API sends them.
      return { status: 200, headers: {}, body: encodeJson({ succeeded: false, code: f.code, info: '', error: f.error ?? '内部错误', resp_data: {} }) };
    case 'invalid-json':
      return { status: 200, headers: {}, body: '{"succeeded":true,"resp_data":{"checkins":[{"checkin_id":12' };
    case 'wrong-shape':
      return { status: 200, headers: {}, body: encodeJson({ succeeded: true, resp_data: WRONG_SHAPES[route] }) };
    case 'deleted':
      return { status: 200, headers: {}, body: '{"succeeded":true,"resp_data":{}}' };
    case 'redirect':
      return { status: 302, headers: { location: f.location }, body: encodeJson({ succeeded: false, code: 302, error: 'moved' }) };
    default:
      return undefined;
  }
}

/** Registers a repeating timer the simulator clears on close; returns its stop function. */
export type Every = (ms: number, tick: () => void) => () => void;

/** Headers now, then one byte per tick: the body first, then JSON whitespace forever (until closed). */
export function trickle(res: ServerResponse, body: Buffer, bytesPerSecond: number, every: Every): void {
  res.writeHead(200);
  res.flushHeaders();
  let sent = 0;
  const stop = every(Math.max(1, Math.round(1000 / bytesPerSecond)), () => {
    if (res.destroyed) return stop();
    res.write(sent < body.length ? body.subarray(sent, sent + 1) : ' ');
    sent += 1;
  });
  res.on('close', stop);
}

const PAD_PREFIX = '{"succeeded":true,"resp_data":{"padding":"';
const PAD_SUFFIX = '"}}';
const BLOCK = Buffer.alloc(64 * 1024, 'x');

/** A valid JSON envelope of exactly `bytes` bytes (or the bare minimum if `bytes` is smaller). */
function* paddedJson(bytes: number): Generator<Buffer | string> {
  yield PAD_PREFIX;
  let left = Math.max(0, bytes - PAD_PREFIX.length - PAD_SUFFIX.length);
  while (left > 0) {
    const n = Math.min(left, BLOCK.length);
    yield BLOCK.subarray(0, n);
    left -= n;
  }
  yield PAD_SUFFIX;
}

/**
 * Streams a padded body, generated chunk by chunk with back-pressure so neither `huge`
 * nor `gzip-bomb` ever holds the whole body in memory.
 */
export function streamPadded(res: ServerResponse, bytes: number, gzip: boolean): void {
  const source = Readable.from(paddedJson(bytes));
  // A client that gives up mid-stream is the point of these faults: its error is expected.
  const ignore = (): void => undefined;
  if (gzip) {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    pipeline(source, createGzip(), res, ignore);
  } else {
    res.writeHead(200, { 'content-length': String(Math.max(bytes, PAD_PREFIX.length + PAD_SUFFIX.length)) });
    pipeline(source, res, ignore);
  }
}
