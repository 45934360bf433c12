import type { Logger } from 'pino';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { createRuntime } from '../../runtime.js';
import { runJob } from '../../worker/run-job.js';
import { UsageError } from '../../shared/errors.js';

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

/**
 * Runs the named refreshes now, in this process, one job after another (the
 * job that lists projects first, so that the others fan out over a fresh
 * list). `all` means every enabled job; a job named explicitly runs even when
 * disabled. Exit 0 when every refresh succeeded, 1 otherwise.
 */
export async function onceCommand(jobs: readonly ParsedJob[], names: string[], all: boolean, config: Config, logger: Logger): Promise<number> {
  const runtime = createRuntime(jobs, config, logger);
  try {
    const plans = names
      .map((name) => runtime.plans.get(name)!)
      .filter((plan) => !all || plan.enabled)
      .sort((a, b) => Number(Boolean(b.job.providesProjects)) - Number(Boolean(a.job.providesProjects)));
    const started = Date.now();
    const results = [];
    for (const plan of plans) results.push(await runJob(plan, runtime.run, 'once'));
    const failed = results.filter((r) => !r.ok).map((r) => r.job);
    logger.info(
      {
        jobs: results.length,
        failed,
        keys: results.reduce((n, r) => n + r.keysWritten, 0),
        bytes: results.reduce((n, r) => n + r.bytesWritten, 0),
        seconds: (Date.now() - started) / 1000,
        requests: runtime.run.upstream.attempts,
      },
      failed.length ? 'once finished with failures' : 'once finished',
    );
    return failed.length ? 1 : 0;
  } finally {
    await runtime.close();
  }
}
