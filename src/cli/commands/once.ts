import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { createRuntime, type Runtime } from '../../runtime.js';
import { runJob, type RunProgress, type RunResult } from '../../worker/run-job.js';
import type { JobPlan } from '../../definition/parse.js';
import { UsageError } from '../../shared/errors.js';
import type { OnceProgress } from '../progress.js';

/** Throttled one-off runs wait and try again, this many times at most. */
const MAX_THROTTLED_RETRIES = 5;

/** Checks `--once` names against jobs/ before anything else happens. */
export function selectJobs(jobs: readonly ParsedJob[], wanted: string[] | 'all'): string[] {
  const valid = jobs.map((j) => j.name);
  if (wanted === 'all') return valid;
  const unknown = wanted.filter((w) => !valid.includes(w));
  if (unknown.length) {
    throw new UsageError(`unknown job ${unknown.map((u) => `"${u}"`).join(', ')} (valid: ${valid.join(', ')}, or all)`);
  }
  return wanted;
}

/** One job, retried after the upstream's backoff while it throttles (there is no queue to hand it back to). */
async function runOnce(plan: JobPlan, runtime: Runtime, logger: Logger, progress: OnceProgress | undefined): Promise<RunResult> {
  const onProgress = progress && ((p: RunProgress) => progress.update(p));
  let result = await runJob(plan, runtime.run, 'once', onProgress);
  for (let i = 0; i < MAX_THROTTLED_RETRIES && result.outcome === 'throttled' && !runtime.stopping.signal.aborted; i += 1) {
    logger.info({ job: plan.job.name, waitMs: result.retryAfterMs }, 'throttled: waiting before trying again');
    await sleep(result.retryAfterMs ?? 1_000, undefined, { signal: runtime.stopping.signal }).catch(() => undefined);
    result = await runJob(plan, runtime.run, 'once', onProgress);
  }
  progress?.jobDone(result);
  return result;
}

/**
 * Runs the named refreshes now, in this process, one job after another (the
 * job that lists projects first, so that the others fan out over a fresh
 * list). `all` means every enabled job; a job named explicitly runs even when
 * disabled. Exit 0 when every refresh succeeded, 1 otherwise. SIGTERM/SIGINT
 * stop starting units and, after the grace period, abandon requests in flight.
 * `progress` (on a terminal) draws a bar per job and a summary; the log
 * lines are the same with or without it.
 */
export async function onceCommand(
  jobs: readonly ParsedJob[],
  names: string[],
  all: boolean,
  config: Config,
  logger: Logger,
  progress?: OnceProgress,
): Promise<number> {
  const runtime = createRuntime(jobs, config, logger);
  let graceTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (runtime.stopping.signal.aborted) {
      // A second signal: whatever still waits (a Redis that never answers) is abandoned, as `run` does.
      logger.warn({ signal }, 'second signal: stopping at once');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping: no new refresh starts');
    runtime.stopping.abort();
    graceTimer ??= setTimeout(() => runtime.abort.abort(), config.shutdown.graceMs);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const plans = names
      .map((name) => runtime.plans.get(name)!)
      .filter((plan) => !all || plan.enabled)
      .sort((a, b) => Number(Boolean(b.job.providesProjects)) - Number(Boolean(a.job.providesProjects)));
    const started = Date.now();
    const results: RunResult[] = [];
    try {
      for (const plan of plans) {
        if (runtime.stopping.signal.aborted) break;
        results.push(await runOnce(plan, runtime, logger, progress));
      }
    } finally {
      progress?.finish({
        results,
        skipped: plans.slice(results.length).map((p) => p.job.name),
        seconds: (Date.now() - started) / 1000,
        requests: runtime.run.upstream.attempts,
      });
    }
    const failed = results.filter((r) => !r.ok).map((r) => r.job);
    const skipped = plans.length - results.length;
    logger.info(
      {
        jobs: results.length,
        failed,
        skipped,
        keys: results.reduce((n, r) => n + r.keysWritten, 0),
        bytes: results.reduce((n, r) => n + r.bytesWritten, 0),
        seconds: (Date.now() - started) / 1000,
        requests: runtime.run.upstream.attempts,
      },
      failed.length || skipped ? 'once finished with failures' : 'once finished',
    );
    return failed.length || skipped ? 1 : 0;
  } finally {
    clearTimeout(graceTimer);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await runtime.close();
  }
}
