import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { JobPlan } from '../definition/parse.js';
import { formatDuration } from '../shared/duration.js';
import { nextCronRun } from './cron.js';

/** The data of every job the schedulers create: never anything secret. */
export interface WarmJobData {
  trigger: 'schedule' | 'manual';
  /** The stagger the scheduler was registered with (BullMQ stores its own offset for every scheduler). */
  offset?: number;
}

export interface DesiredScheduler {
  id: string;
  job: string;
  every?: number;
  /** With `every`: where in each interval the job fires, so that jobs of one cadence do not fire together. */
  offset?: number;
  pattern?: string;
  tz?: string;
}

/** Scheduler id of a job's extra cron run (daily-stats after midnight). */
const ALSO_AT_SUFFIX = '@alsoAt';

/** The schedulers the enabled plans ask for: one per job, plus one per `alsoAt`. */
export function desiredSchedulers(plans: readonly JobPlan[], timeZone: string): DesiredScheduler[] {
  const out: DesiredScheduler[] = [];
  for (const plan of plans) {
    if (!plan.enabled) continue;
    const name = plan.job.name;
    if (plan.everyMs !== undefined) out.push({ id: name, job: name, every: plan.everyMs });
    else if (plan.cron !== undefined) out.push({ id: name, job: name, pattern: plan.cron, tz: timeZone });
    if (plan.alsoAt !== undefined) out.push({ id: name + ALSO_AT_SUFFIX, job: name, pattern: plan.alsoAt, tz: timeZone });
  }
  // Stagger: the k-th of n jobs with the same interval fires k/n into it
  // (BullMQ `offset`), e.g. project-stats at :00 and leaderboards at :15 of
  // each half hour, instead of both on the same second.
  const byEvery = new Map<number, DesiredScheduler[]>();
  for (const d of out) if (d.every !== undefined) byEvery.set(d.every, [...(byEvery.get(d.every) ?? []), d]);
  for (const [every, group] of byEvery) {
    group.sort((a, b) => a.id.localeCompare(b.id));
    group.forEach((d, k) => {
      if (k > 0) d.offset = Math.round((k * every) / group.length);
    });
  }
  return out;
}

export interface ReconcileReport {
  upserted: string[];
  removed: string[];
  unchanged: string[];
}

export const JOB_OPTIONS = {
  // Bounded history: enough to inspect recent runs, never a growing list.
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 500 },
  attempts: 1,
};

/**
 * Queues a one-off run of a job (trigger `manual`), run by whichever worker
 * takes it, like a scheduled one. BullMQ deduplication (simple mode, no TTL)
 * keeps one manual run per job waiting or running: another request while it
 * waits or runs gets that job's id back (`deduplicated`); once it completes
 * or fails, the next request queues a new run.
 */
export async function addManualRun(queue: Queue, job: string): Promise<{ jobId: string; deduplicated: boolean }> {
  // Our own id, to tell from the id BullMQ returns whether the add was deduplicated.
  const jobId = `manual-${job}-${randomUUID()}`;
  const data: WarmJobData = { trigger: 'manual' };
  const added = await queue.add(job, data, { ...JOB_OPTIONS, jobId, deduplication: { id: `manual:${job}` } });
  return { jobId: String(added.id), deduplicated: added.id !== jobId };
}

/**
 * Makes the queue's schedulers match the plans. A scheduler whose cadence is
 * unchanged is left alone, so restarting replicas neither reset its next run
 * nor add runs; a changed one is upserted (BullMQ replaces it in place); one
 * no enabled job asks for is removed. Upserts are idempotent by id, which is
 * what keeps "one scheduler per job" when several replicas start together.
 */
/** How overdue a scheduler's next run must be before its missing job counts as lost rather than just being taken. */
const LOST_AFTER_MS = 2_000;

/**
 * A scheduler whose next run is overdue and whose job is not in the queue:
 * BullMQ creates each run's job when the previous one starts, so once a job
 * is lost (a failover to a replica that had not received it yet, an
 * eviction) the scheduler never fires again by itself. Upserting it again
 * adds the next run.
 */
async function lostNextRun(queue: Queue, have: { key: string; next?: number | null }): Promise<boolean> {
  const next = Number(have.next);
  if (!Number.isFinite(next) || next > Date.now() - LOST_AFTER_MS) return false;
  return (await queue.getJob(`repeat:${have.key}:${next}`)) === undefined;
}

export async function reconcileSchedulers(
  queue: Queue,
  desired: readonly DesiredScheduler[],
  /**
   * `missing`: only re-register schedulers that are gone (the periodic check):
   * during a rolling deploy, replicas with different configurations must not
   * undo each other's changes every interval. @defaultValue 'all'
   */
  mode: 'all' | 'missing' = 'all',
): Promise<ReconcileReport> {
  const existing = await queue.getJobSchedulers(0, -1, true);
  const byId = new Map(existing.map((s) => [s.key, s]));
  const report: ReconcileReport = { upserted: [], removed: [], unchanged: [] };
  for (const want of desired) {
    const have = byId.get(want.id);
    const lost = have !== undefined && mode === 'missing' && (await lostNextRun(queue, have));
    if (have && mode === 'missing' && !lost) {
      report.unchanged.push(want.id);
      continue;
    }
    const same =
      !lost &&
      have !== undefined &&
      have.name === want.job &&
      (have.every === undefined ? undefined : Number(have.every)) === want.every &&
      // BullMQ keeps an offset for every `every` scheduler (the phase of its
      // first run); ours is in the template's data.
      Number((have.template?.data as WarmJobData | undefined)?.offset ?? 0) === (want.offset ?? 0) &&
      (have.pattern ?? undefined) === want.pattern &&
      (have.tz ?? undefined) === want.tz;
    if (same) {
      report.unchanged.push(want.id);
      continue;
    }
    const repeat =
      want.every !== undefined ? { every: want.every, ...(want.offset ? { offset: want.offset } : {}) } : { pattern: want.pattern!, tz: want.tz! };
    const data: WarmJobData = { trigger: 'schedule', ...(want.offset ? { offset: want.offset } : {}) };
    await queue.upsertJobScheduler(want.id, repeat, { name: want.job, data, opts: JOB_OPTIONS });
    if (!have && want.offset) {
      // A staggered scheduler first fires at its offset; a new one also runs
      // now, so that a fresh deployment is warm at once. The job id makes
      // replicas registering it together add one run, not several.
      await queue.add(want.job, { trigger: 'schedule' }, { ...JOB_OPTIONS, jobId: `first-${want.id}` });
    }
    report.upserted.push(want.id);
  }
  const wanted = new Set(desired.map((d) => d.id));
  for (const have of mode === 'missing' ? [] : existing) {
    if (!wanted.has(have.key)) {
      await queue.removeJobScheduler(have.key);
      report.removed.push(have.key);
    }
  }
  return report;
}

/** A person's reading of a plan's cadence: `every 5m`, `cron 0 * * * * (Asia/Shanghai)`, plus `alsoAt`. */
export function describeSchedule(plan: JobPlan, timeZone: string): string {
  if (!plan.enabled) return 'disabled';
  const main = plan.everyMs !== undefined ? `every ${formatDuration(plan.everyMs)}` : `cron ${plan.cron} (${timeZone})`;
  return plan.alsoAt ? `${main} + cron ${plan.alsoAt} (${timeZone})` : main;
}

/**
 * Next run of a plan: the earliest `next` BullMQ holds for its schedulers;
 * for cron schedules croner computes it when the queue has no scheduler yet.
 */
export function nextRunAt(plan: JobPlan, timeZone: string, schedulers: readonly { key: string; next?: number }[]): Date | undefined {
  if (!plan.enabled) return undefined;
  const ids = [plan.job.name, plan.job.name + ALSO_AT_SUFFIX];
  const nexts = schedulers.filter((s) => ids.includes(s.key) && s.next !== undefined).map((s) => Number(s.next));
  const crons = [plan.cron, plan.alsoAt].filter((c): c is string => c !== undefined);
  if (nexts.length === 0) {
    for (const cron of crons) {
      const next = nextCronRun(cron, timeZone);
      if (next) nexts.push(next.getTime());
    }
  }
  return nexts.length ? new Date(Math.min(...nexts)) : undefined;
}
