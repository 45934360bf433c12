/** The benchmark's flags (node:util parseArgs), checked once; unknown flags fail. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Projects in the simulator for throughput and the rate limit. @defaultValue 2000 */
  projects: number;
  /** Delay the simulator adds to every answer. @defaultValue 20 */
  latencyMs: number;
  /** Requests in flight: UPSTREAM_CONCURRENCY and the plain loop's p-map. @defaultValue 50 */
  concurrency: number;
  /** Alternating plain-loop / daemon rounds; medians are reported. @defaultValue 3 */
  rounds: number;
  /** Upstream rate limit, requests per second (UPSTREAM_RATE_LIMIT). @defaultValue 200 */
  rate: number;
  /** Length of the scheduling-lag window. @defaultValue 30 */
  lagSeconds: number;
  /** Projects for the memory measure. @defaultValue 10000 */
  bigProjects: number;
  /** The idle window of the CPU measure. @defaultValue 10 */
  idleSeconds: number;
  /** `auto`: profile the daemon when ratio_vs_plain_loop < 0.8. @defaultValue 'auto' */
  profile: 'auto' | 'always' | 'never';
  /** Phases to leave out. */
  skip: Set<Phase>;
  /**
   * One phase at a time. By default the rate-limited cycle and the lag phase
   * run beside each other inside the idle-CPU window of the memory run (after
   * its warm-up), to keep the default run near 7 minutes on 2 cores. @defaultValue false
   */
  serial: boolean;
  /** NODE_OPTIONS for every daemon process, e.g. `--max-old-space-size=96` to see what a heap cap does. @defaultValue '' */
  daemonNodeOptions: string;
  quick: boolean;
}

export type Phase = 'rate' | 'lag' | 'resources' | 'heap';

export const USAGE = `usage: npm run bench -- [flags]

  --projects N        simulator projects for throughput and rate limit (default 2000)
  --latency-ms N      upstream latency per request (default 20)
  --concurrency N     requests in flight, daemon and plain loop (default 50)
  --rounds N          alternating plain-loop / daemon rounds, medians reported (default 3)
  --rate R            upstream rate limit in requests/s for UPSTREAM_RATE_LIMIT (default 200)
  --lag-seconds N     scheduling-lag window (default 30)
  --big-projects N    simulator projects for the memory measure (default 10000)
  --idle-seconds N    idle CPU window (default 10)
  --profile MODE      auto (when ratio_vs_plain_loop < 0.8) | always | never (default auto)
  --skip LIST         phases to leave out: rate,lag,resources,heap (heap: the daemon again with
                      V8's own heap settings, in the throughput rounds and the memory run)
  --serial            one phase at a time (default: the rate-limited cycle and the lag phase
                      run beside each other, inside the idle window of the memory run)
  --daemon-node-options STR
                      NODE_OPTIONS for every daemon process (e.g. --max-old-space-size=96)
  --quick             a smoke run of a few seconds (small sizes; explicit flags still win)
  --help`;

const DEFAULTS = { projects: 2000, latencyMs: 20, concurrency: 50, rounds: 3, rate: 200, lagSeconds: 30, bigProjects: 10_000, idleSeconds: 10 };
const QUICK = { projects: 60, latencyMs: 20, concurrency: 50, rounds: 1, rate: 200, lagSeconds: 3, bigProjects: 100, idleSeconds: 2 };

export class UsageError extends Error {}

function integer(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${flag} "${raw}" is not an integer in ${min}..${max}`);
  }
  return Number(raw);
}

/** Parsed flags, or undefined for --help. */
export function parseOptions(argv: string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        projects: { type: 'string' },
        'latency-ms': { type: 'string' },
        concurrency: { type: 'string' },
        rounds: { type: 'string' },
        rate: { type: 'string' },
        'lag-seconds': { type: 'string' },
        'big-projects': { type: 'string' },
        'idle-seconds': { type: 'string' },
        profile: { type: 'string' },
        skip: { type: 'string' },
        serial: { type: 'boolean' },
        'daemon-node-options': { type: 'string' },
        quick: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  const base = values.quick ? QUICK : DEFAULTS;
  const profile = values.profile ?? 'auto';
  if (profile !== 'auto' && profile !== 'always' && profile !== 'never') throw new UsageError(`--profile "${profile}" is not auto, always or never`);
  const skip = new Set<Phase>();
  for (const phase of (values.skip ?? '').split(',').filter(Boolean)) {
    if (phase !== 'rate' && phase !== 'lag' && phase !== 'resources' && phase !== 'heap') throw new UsageError(`--skip "${phase}" is not a phase (rate, lag, resources, heap)`);
    skip.add(phase);
  }
  return {
    // The simulator holds at most 10,000 projects.
    projects: integer('projects', values.projects, base.projects, 1, 10_000),
    latencyMs: integer('latency-ms', values['latency-ms'], base.latencyMs, 0, 10_000),
    concurrency: integer('concurrency', values.concurrency, base.concurrency, 1, 1_000),
    rounds: integer('rounds', values.rounds, base.rounds, 1, 20),
    rate: integer('rate', values.rate, base.rate, 1, 100_000),
    lagSeconds: integer('lag-seconds', values['lag-seconds'], base.lagSeconds, 2, 600),
    bigProjects: integer('big-projects', values['big-projects'], base.bigProjects, 1, 10_000),
    idleSeconds: integer('idle-seconds', values['idle-seconds'], base.idleSeconds, 1, 120),
    profile,
    skip,
    serial: Boolean(values.serial),
    daemonNodeOptions: values['daemon-node-options'] ?? '',
    quick: Boolean(values.quick),
  };
}
