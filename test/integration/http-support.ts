/**
 * Helpers of the HTTP tests: a daemon started in this process on a harness
 * (its own prefix and simulator) with the HTTP server on a free port, and a
 * bounded fetch. The daemon is stopped by the harness's cleanup.
 */
import { createDaemon, type Daemon } from '../../src/daemon.js';
import type { Config } from '../../config/load.js';
import type { Harness } from '../support/harness.js';

/** Every job but those named is disabled; the named ones get the settings given. */
export function onlyJobs(jobs: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const all: Record<string, Record<string, unknown>> = {
    'projects-list': { enabled: false },
    'project-stats': { enabled: false },
    leaderboards: { enabled: false },
    'daily-stats': { enabled: false },
    topics: { enabled: false },
  };
  return { ...all, ...jobs };
}

/** A cadence that never comes during a test: jobs run only when asked (POST /refresh). */
export const NEVER = { cron: '0 0 0 1 1 *' };

export interface HttpDaemon {
  daemon: Daemon;
  config: Config;
  /** `http://127.0.0.1:PORT` */
  base: string;
  get(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, token?: string): Promise<Response>;
}

export async function startHttpDaemon(h: Harness, options: { jobs?: Record<string, Record<string, unknown>>; env?: Record<string, string> } = {}): Promise<HttpDaemon> {
  const config = h.reconfigure({ jobs: options.jobs ?? onlyJobs({ 'projects-list': NEVER }) }, { HTTP_PORT: '0', ...options.env });
  const daemon = createDaemon(h.jobs, config, h.logger);
  h.track({ close: () => daemon.stop() });
  await daemon.start();
  const address = daemon.httpAddress();
  if (!address) throw new Error(`the daemon's HTTP server did not start; logs:\n${h.logs.slice(-20).join('')}`);
  const base = `http://127.0.0.1:${address.port}`;
  const get = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
  return {
    daemon,
    config,
    base,
    get,
    post: (path, token) => get(path, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }),
  };
}

/** Polls until `probe` returns a value other than undefined; bounded by time and count. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1; i += 1) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Samples of a Prometheus text exposition: `name{labels} value` → { name, labels, value }. */
export function parseMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}
