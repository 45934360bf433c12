import { MultiBar, type GenericBar, type Params } from 'cli-progress';
import { describeError } from '../shared/errors.js';
import { scrub } from '../shared/secrets.js';
import type { RunProgress, RunResult } from '../worker/run-job.js';
import { formatBytes, formatDuration } from './format.js';

/** The terminal the bars are drawn on: process.stderr, or in tests an object that records what is written. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

/** What `--once` tells the display. */
export interface OnceProgress {
  /** From runJob's progress listener: a job's units are listed, or one more finished. */
  update(progress: RunProgress): void;
  /** A job's run is over (its bar shows ✓ or ✗). */
  jobDone(result: RunResult): void;
  /** A line printed above the bars (a log line on the same terminal). */
  log(line: string): void;
  /** Stops the bars and prints the summary; safe to call once, also after an error. */
  finish(summary: OnceSummary): void;
}

export interface OnceSummary {
  results: readonly RunResult[];
  /** Jobs not started (SIGTERM/SIGINT). */
  skipped: readonly string[];
  seconds: number;
  requests: number;
}

/**
 * Whether `--once` draws bars: only when stderr (where they go) is a
 * terminal that can move its cursor. Elsewhere (a pipe, a file, CI, `TERM=dumb`)
 * the output stays the plain pino lines it always was.
 */
export function wantsProgressBar(stderr: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stderr.isTTY === true && env.TERM !== 'dumb';
}

const BAR_WIDTH = 24;
const MARK = { running: ' ', ok: '✓', failed: '✗' } as const;

interface Payload {
  job: string;
  state: keyof typeof MARK;
  failed: number;
  skipped: number;
  elapsedMs: number;
}

/** One line per job: `✓ topics         ████████░░░░  18/36 units  1 failed  2s`. */
export function formatBarLine(params: Pick<Params, 'progress' | 'value' | 'total'>, payload: Payload, jobWidth: number): string {
  const filled = Math.round(params.progress * BAR_WIDTH);
  const counts = [`${params.value}/${params.total} units`, `${payload.failed} failed`, ...(payload.skipped ? [`${payload.skipped} skipped`] : [])];
  return `${MARK[payload.state]} ${payload.job.padEnd(jobWidth)}  ${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}  ${counts.join('  ')}  ${formatDuration(payload.elapsedMs)}`;
}

/**
 * Bars for `--once` on a terminal (cli-progress): one per job, created when
 * its units are known, filled as units finish, with the failures counted;
 * then a summary. `jobs` are the names to be run, to align the bars.
 */
export function createProgress(stream: ProgressStream, jobs: readonly string[]): OnceProgress {
  const jobWidth = Math.max(8, ...jobs.map((j) => j.length));
  const bars = new Map<string, { bar: GenericBar; payload: Payload; started: number }>();
  const multi = new MultiBar({
    stream: stream as unknown as NodeJS.WritableStream,
    format: (_options, params, payload) => formatBarLine(params, payload as Payload, jobWidth),
    hideCursor: true,
    fps: 10,
    // Signals are the once command's to handle: it stops the run, then finish() stops the bars.
    gracefulExit: false,
  });
  let finished = false;

  const barOf = (job: string, total: number) => {
    let entry = bars.get(job);
    if (!entry) {
      const payload: Payload = { job, state: 'running', failed: 0, skipped: 0, elapsedMs: 0 };
      entry = { bar: multi.create(total, 0, payload), payload, started: Date.now() };
      bars.set(job, entry);
    }
    return entry;
  };

  return {
    update(p) {
      if (finished) return;
      const entry = barOf(p.job, p.total);
      // A throttled job runs again from the start: same bar, new counts.
      entry.bar.setTotal(p.total);
      Object.assign(entry.payload, { state: 'running', failed: p.failed, skipped: p.skipped, elapsedMs: Date.now() - entry.started });
      entry.bar.update(p.done, entry.payload);
    },
    jobDone(result) {
      if (finished) return;
      const entry = bars.get(result.job);
      if (!entry) {
        // It failed before its units were known (e.g. the project list could not be read); the summary says why.
        multi.log(`✗ ${result.job}: ${result.outcome} before its units were listed\n`);
        return;
      }
      Object.assign(entry.payload, { state: result.ok ? 'ok' : 'failed', failed: result.itemsFailed, elapsedMs: result.durationMs });
      entry.bar.update(entry.payload);
    },
    log(line) {
      if (!finished) multi.log(line.endsWith('\n') ? line : `${line}\n`);
      else stream.write(line.endsWith('\n') ? line : `${line}\n`);
    },
    finish(summary) {
      if (finished) return;
      finished = true;
      multi.update(); // flushes lines logged since the last frame
      multi.stop();
      stream.write(`${formatSummary(summary)}\n`);
    },
  };
}

/** The closing lines: totals, and each failed job with its error. */
export function formatSummary(s: OnceSummary): string {
  const failed = s.results.filter((r) => !r.ok);
  const keys = s.results.reduce((n, r) => n + r.keysWritten, 0);
  const bytes = s.results.reduce((n, r) => n + r.bytesWritten, 0);
  const totals = `${s.results.length} job${s.results.length === 1 ? '' : 's'}, ${keys} keys (${formatBytes(bytes)}) in ${s.seconds.toFixed(1)}s, ${s.requests} requests`;
  if (failed.length === 0 && s.skipped.length === 0) return `✓ once finished: ${totals}`;
  const lines = [`✗ once finished with failures: ${totals}; ${failed.length} failed${s.skipped.length ? `, ${s.skipped.length} not started (${s.skipped.join(', ')})` : ''}`];
  for (const r of failed) lines.push(`  ${r.job}: ${r.outcome}${r.error ? ` (${scrub(describeError(r.error))})` : ''}`);
  return lines.join('\n');
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * A pino JSON line as one readable line above the bars:
 * `warn topics: unit refresh failed; its keys keep their last value [topics project 12] (ERR_UPSTREAM_HTTP: …)`.
 * A line that is not JSON is passed through.
 */
export function formatLogLine(line: string): string {
  let o: { level?: number; msg?: string; job?: string; unit?: string; err?: { code?: string; message?: string } };
  try {
    o = JSON.parse(line) as typeof o;
  } catch {
    return line.trimEnd();
  }
  const level = LEVELS[o.level ?? 30] ?? 'info';
  const err = o.err?.message ? ` (${o.err.code ? `${o.err.code}: ` : ''}${o.err.message})` : '';
  return `${level} ${o.job ? `${o.job}: ` : ''}${o.msg ?? ''}${o.unit ? ` [${o.unit}]` : ''}${err}`;
}
