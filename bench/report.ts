/**
 * The report: a markdown table for people and `key=value` lines for
 * machines, printed and written to bench/results/latest.txt.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BenchOptions } from './options.js';
import type { LagResult } from './lag.js';
import type { ProfileComparison } from './profile.js';
import type { ResourceResult } from './resources.js';
import type { RateLimitOutcome } from './warm-cycle.js';
import { round } from './stats.js';

export interface ThroughputSide {
  /** Medians over the rounds. */
  keys: number;
  bytes: number;
  requests: number;
  seconds: number;
  wallSeconds: number;
  keysPerSecond: number;
  requestsPerSecond: number;
  /** keys/s of each round, in order. */
  rounds: number[];
  /** CPU time of the process, start-up included. */
  cpuSeconds: number;
  /** CPU time ÷ wall time: 1 is one core busy all along. */
  cpuShare: number;
}

export interface CodeState {
  /** HEAD commit, short. */
  commit: string;
  /** Files of src/, jobs/ or config/ changed from HEAD: the daemon measured is not exactly the commit. */
  dirtyFiles: number;
}

export interface BenchResults {
  options: BenchOptions;
  code: CodeState;
  startedAt: Date;
  totalSeconds: number;
  baseline: ThroughputSide;
  daemon: ThroughputSide & { keysPerSecondWithStartup: number };
  /** The daemon with V8's own heap settings (MEMORY_HEAP_GROWTH=0 MEMORY_SEMI_SPACE_MB=0), in the same rounds; unless --skip heap. */
  daemonV8Heap: ThroughputSide | undefined;
  rate: RateLimitOutcome | undefined;
  lag: LagResult | undefined;
  resources: ResourceResult | undefined;
  /** The memory run's warm-up again with V8's own heap settings. */
  resourcesV8Heap: { rssMaxMb: number; warmSeconds: number; warmKeys: number } | undefined;
  profile: ProfileComparison | undefined;
}

const TARGETS = { plainLoop: 0.8, rateLimit: 0.9, lag: 1.2, rssMb: 150, idleCpuPct: 1 };

const n = (value: number, digits = 2) => (Number.isFinite(value) ? String(round(value, digits)) : 'n/a');
const verdict = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'met' : '**missed**');

export function ratios(r: BenchResults) {
  const plain = r.daemon.keysPerSecond / r.baseline.keysPerSecond;
  const rate = r.rate?.supported ? r.rate.idealSeconds / r.rate.seconds : undefined;
  const lag = r.lag ? r.lag.daemon.p99 / r.lag.bare.p99 : undefined;
  return { plain, rate, lag };
}

export function markdown(r: BenchResults): string {
  const o = r.options;
  const q = ratios(r);
  const rows: string[][] = [];
  const row = (...cells: string[]) => rows.push(cells);
  const b = r.baseline;
  const d = r.daemon;
  row('keys written', `${n(b.keys, 0)}`, `${n(d.keys, 0)}`, '', '', '');
  row('upstream requests (simulator)', `${n(b.requests, 0)}`, `${n(d.requests, 0)}`, '', '', '');
  row('value bytes', `${n(b.bytes, 0)}`, `${n(d.bytes, 0)}`, '', '', '');
  row('warm cycle time, s (median)', n(b.seconds), `${n(d.seconds)} (${n(d.wallSeconds)} from spawn to exit)`, '', '', '');
  row('upstream requests/s', n(b.requestsPerSecond, 0), n(d.requestsPerSecond, 0), n(d.requestsPerSecond / b.requestsPerSecond), '', '');
  row(
    'process CPU, s (start-up included) and share of one core',
    `${n(b.cpuSeconds, 1)} (${n(b.cpuShare * 100, 0)} %)`,
    `${n(d.cpuSeconds, 1)} (${n(d.cpuShare * 100, 0)} %)`,
    n(d.cpuSeconds / b.cpuSeconds),
    '',
    '',
  );
  row('CPU ms per upstream request', n((1000 * b.cpuSeconds) / b.requests), n((1000 * d.cpuSeconds) / d.requests), '', '', '');
  row(
    '**keys/s** (rounds: plain ' + b.rounds.map((x) => n(x, 0)).join(', ') + '; daemon ' + d.rounds.map((x) => n(x, 0)).join(', ') + ')',
    n(b.keysPerSecond, 0),
    `${n(d.keysPerSecond, 0)} (${n(d.keysPerSecondWithStartup, 0)} with start-up)`,
    `**${n(q.plain)}** ratio_vs_plain_loop`,
    `≥ ${TARGETS.plainLoop}`,
    verdict(q.plain >= TARGETS.plainLoop),
  );
  if (r.daemonV8Heap) {
    const v = r.daemonV8Heap;
    row(
      `keys/s of the daemon with V8's own heap settings (rounds ${v.rounds.map((x) => n(x, 0)).join(', ')}; CPU ${n(v.cpuSeconds, 1)} s)`,
      '',
      n(v.keysPerSecond, 0),
      `${n(d.keysPerSecond / v.keysPerSecond)} default ÷ V8's own`,
      '',
      '',
    );
  }
  if (r.rate === undefined) row(`rate limit ${o.rate}/s`, '', 'not run', '', `≥ ${TARGETS.rateLimit}`, '');
  else if (!r.rate.supported) row(`rate limit ${o.rate}/s`, '', `unsupported: ${r.rate.reason}`, 'ratio_vs_rate_limit=unsupported', `≥ ${TARGETS.rateLimit}`, '');
  else {
    const rl = r.rate;
    row(
      `**rate limit ${rl.rate}/s**: ${n(rl.requests, 0)} requests`,
      `ideal ${n(rl.idealSeconds)} s`,
      `${n(rl.seconds)} s${rl.timedOut ? ' (cut off: timed out)' : ''}; busiest second ${n(rl.peakRequestsPerSecond, 0)} requests` +
        (rl.peakRequestsPerSecond > rl.rate ? ` (**${n((100 * rl.peakRequestsPerSecond) / rl.rate - 100, 0)} % over the limit**)` : ''),
      `**${n(q.rate!)}** ratio_vs_rate_limit`,
      `≥ ${TARGETS.rateLimit}`,
      verdict(q.rate! >= TARGETS.rateLimit),
    );
  }
  if (r.lag) {
    const l = r.lag;
    const fmt = (x: LagResult['daemon']) => `p50 ${n(x.p50, 0)} / p99 ${n(x.p99, 0)} / max ${n(x.max, 0)} ms (n=${x.n})`;
    row(`**scheduling lag**, every 1 s over ${n(l.seconds, 0)} s`, `bare BullMQ: ${fmt(l.bare)}`, `daemon: ${fmt(l.daemon)}`, `**${n(q.lag!)}** lag_p99_vs_bare_bullmq`, `≤ ${TARGETS.lag}`, verdict(q.lag! <= TARGETS.lag));
  }
  if (r.resources) {
    const s = r.resources;
    row(
      `**RSS**, \`run\` warming ${s.projects} projects (${n(s.warmSeconds, 1)} s, ${s.warmKeys} keys)`,
      '',
      `max ${n(s.rssMaxMb, 1)} MB; idle ${n(s.rssIdleStartMb, 1)} MB after the warm-up, ${n(s.rssIdleMb, 1)} MB at the end`,
      '',
      `≤ ${TARGETS.rssMb} MB`,
      verdict(s.rssMaxMb <= TARGETS.rssMb),
    );
    if (r.resourcesV8Heap) {
      const v = r.resourcesV8Heap;
      row(
        `RSS, the same warm-up with V8's own heap settings (${n(v.warmSeconds, 1)} s, ${v.warmKeys} keys)`,
        '',
        `max ${n(v.rssMaxMb, 1)} MB`,
        `${n(s.rssMaxMb / v.rssMaxMb)} default ÷ V8's own`,
        '',
        '',
      );
    }
    row(
      `**idle CPU** over ${n(s.idleSeconds, 1)} s${s.alongside.length ? ` (meanwhile, in other processes: ${s.alongside.join(', ')})` : ''}`,
      '',
      `${n(s.idleCpuPct)} % of one core${s.idleDisturbed ? ' (a refresh ran: not idle)' : ''}`,
      '',
      `≤ ${TARGETS.idleCpuPct} %`,
      verdict(s.idleCpuPct <= TARGETS.idleCpuPct),
    );
  }
  const header = `| measure | plain loop / reference | daemon | ratio | target | |\n|---|---|---|---|---|---|`;
  const lines = [
    `## cache-warmer benchmark`,
    '',
    `${o.projects} projects, ${o.latencyMs} ms upstream latency, concurrency ${o.concurrency}, ${o.rounds} rounds (medians), ` +
      `rate limit ${o.rate}/s, lag over ${o.lagSeconds} s, ${o.bigProjects} projects for memory` +
      `${o.serial ? ', one phase at a time' : ''}${o.daemonNodeOptions ? `, daemon NODE_OPTIONS="${o.daemonNodeOptions}"` : ''}; ` +
      `${r.startedAt.toISOString()}, ${n(r.totalSeconds, 0)} s in all; ` +
      `code at ${r.code.commit}${r.code.dirtyFiles ? ` with ${r.code.dirtyFiles} uncommitted files in src/, jobs/, config/` : ''}.`,
    '',
    header,
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ];
  if (r.profile) {
    const p = r.profile;
    const gap = p.daemon.busyMs - p.plain.busyMs;
    lines.push(
      '',
      `### CPU profiles: \`--once all\` and the plain loop over ${p.projects} projects, ${p.requests} requests each`,
      '',
      `Busy (non-idle) CPU: daemon ${n(p.daemon.busyMs, 0)} ms, plain loop ${n(p.plain.busyMs, 0)} ms; the daemon spends ${n(gap, 0)} ms more ` +
        `(${n(gap / p.requests, 3)} ms per request). Profiles: ${p.daemon.file}, ${p.plain.file}.`,
      '',
      '| area (self time) | plain loop ms | daemon ms | daemon − plain ms | share of the gap |',
      '|---|---|---|---|---|',
      ...p.areas.slice(0, 14).map((a) => `| ${a.area} | ${n(a.plainMs, 0)} | ${n(a.daemonMs, 0)} | ${n(a.daemonMs - a.plainMs, 0)} | ${n((100 * (a.daemonMs - a.plainMs)) / gap, 1)} % |`),
      '',
      '| daemon function (self time) | ms | % of busy |',
      '|---|---|---|',
      ...p.daemon.byFunction.map((e) => `| \`${e.name}\` | ${n(e.selfMs, 0)} | ${n(e.pct, 1)} |`),
    );
  }
  return lines.join('\n');
}

export function keyValues(r: BenchResults): [string, string | number][] {
  const q = ratios(r);
  const kv: [string, string | number][] = [
    ['ratio_vs_plain_loop', round(q.plain, 3)],
    ['ratio_vs_rate_limit', r.rate === undefined ? 'not_run' : r.rate.supported ? round(q.rate!, 3) : 'unsupported'],
    ['lag_p99_vs_bare_bullmq', q.lag === undefined ? 'not_run' : round(q.lag, 3)],
    ['daemon_keys_per_s', round(r.daemon.keysPerSecond, 1)],
    ['daemon_keys_per_s_with_startup', round(r.daemon.keysPerSecondWithStartup, 1)],
    ['baseline_keys_per_s', round(r.baseline.keysPerSecond, 1)],
    ['daemon_requests_per_s', round(r.daemon.requestsPerSecond, 1)],
    ['baseline_requests_per_s', round(r.baseline.requestsPerSecond, 1)],
    ['daemon_seconds', round(r.daemon.seconds, 3)],
    ['daemon_wall_seconds', round(r.daemon.wallSeconds, 3)],
    ['baseline_seconds', round(r.baseline.seconds, 3)],
    ['daemon_keys', r.daemon.keys],
    ['baseline_keys', r.baseline.keys],
    ['daemon_requests', r.daemon.requests],
    ['baseline_requests', r.baseline.requests],
  ];
  if (r.rate?.supported) {
    kv.push(
      ['rate_limit_rps', r.rate.rate],
      ['rate_limit_requests', r.rate.requests],
      ['rate_limit_ideal_seconds', round(r.rate.idealSeconds, 2)],
      ['rate_limit_seconds', round(r.rate.seconds, 2)],
      ['rate_limit_peak_rps', r.rate.peakRequestsPerSecond],
      ['rate_limit_timed_out', r.rate.timedOut ? 1 : 0],
    );
  }
  if (r.lag) {
    const { daemon: d, bare: b } = r.lag;
    kv.push(
      ['lag_p50_ms', d.p50],
      ['lag_p99_ms', d.p99],
      ['lag_max_ms', d.max],
      ['lag_samples', d.n],
      ['bare_lag_p50_ms', b.p50],
      ['bare_lag_p99_ms', b.p99],
      ['bare_lag_max_ms', b.max],
      ['bare_lag_samples', b.n],
    );
  }
  if (r.resources) {
    const s = r.resources;
    kv.push(
      ['rss_max_mb', round(s.rssMaxMb, 1)],
      ['rss_idle_start_mb', round(s.rssIdleStartMb, 1)],
      ['rss_idle_mb', round(s.rssIdleMb, 1)],
      ['rss_projects', s.projects],
      ['idle_cpu_pct', round(s.idleCpuPct, 3)],
      ['idle_disturbed', s.idleDisturbed ? 1 : 0],
      ['big_warm_seconds', round(s.warmSeconds, 2)],
    );
  }
  if (r.daemonV8Heap) {
    kv.push(['daemon_v8_heap_keys_per_s', round(r.daemonV8Heap.keysPerSecond, 1)], ['keys_per_s_default_vs_v8_heap', round(r.daemon.keysPerSecond / r.daemonV8Heap.keysPerSecond, 3)]);
  }
  if (r.resourcesV8Heap && r.resources) {
    const v = r.resourcesV8Heap;
    kv.push(['rss_max_mb_v8_heap', round(v.rssMaxMb, 1)], ['big_warm_seconds_v8_heap', round(v.warmSeconds, 2)], ['rss_default_vs_v8_heap', round(r.resources.rssMaxMb / v.rssMaxMb, 3)]);
  }
  kv.push(
    ['daemon_cpu_seconds', round(r.daemon.cpuSeconds, 2)],
    ['baseline_cpu_seconds', round(r.baseline.cpuSeconds, 2)],
    ['daemon_cpu_share', round(r.daemon.cpuShare, 3)],
    ['baseline_cpu_share', round(r.baseline.cpuShare, 3)],
    ['daemon_cpu_ms_per_request', round((1000 * r.daemon.cpuSeconds) / r.daemon.requests, 3)],
    ['baseline_cpu_ms_per_request', round((1000 * r.baseline.cpuSeconds) / r.baseline.requests, 3)],
  );
  if (r.profile) {
    const p = r.profile;
    kv.push(
      ['profile_daemon_busy_ms', round(p.daemon.busyMs, 0)],
      ['profile_plain_busy_ms', round(p.plain.busyMs, 0)],
      ['profile_top_gap_area', p.areas[0]?.area.replace(/\s+/g, '_') ?? 'n/a'],
      ['profile_daemon_file', p.daemon.file],
    );
  }
  kv.push(
    ['projects', r.options.projects],
    ['latency_ms', r.options.latencyMs],
    ['concurrency', r.options.concurrency],
    ['rounds', r.options.rounds],
    ['serial', r.options.serial ? 1 : 0],
    ['git_commit', r.code.commit],
    ['git_dirty_files', r.code.dirtyFiles],
    ['total_seconds', round(r.totalSeconds, 1)],
  );
  return kv;
}

/** Prints the table and the key=value lines, and writes both to `file`. */
export function publish(r: BenchResults, file: string): string {
  const text = `${markdown(r)}\n\n${keyValues(r)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(text);
  return text;
}
