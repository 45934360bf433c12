import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../config/load.js';
import { QUEUE_NAME, queuePrefix } from '../../src/runtime.js';
import { desiredSchedulers, reconcileSchedulers, type DesiredScheduler } from '../../src/schedule/schedulers.js';
import { harnessPerTest, type Harness } from '../support/harness.js';

const create = harnessPerTest({ projects: 1 });

const MINUTE = 60_000;

/** A Queue on its own connection, both closed by the harness. */
function openQueue(h: Harness): Queue {
  const queue = new Queue(QUEUE_NAME, { connection: h.connect('queue'), prefix: queuePrefix(h.config) });
  queue.on('error', (error) => h.logger.error({ err: error }, 'queue error'));
  return h.track(queue);
}

function desired(h: Harness, config: Config = h.config): DesiredScheduler[] {
  return desiredSchedulers([...h.plansOf(config).values()], config.group.timezone);
}

/** The queue's schedulers by id, with the fields reconcile compares and `next`. */
async function schedulers(queue: Queue) {
  const list = await queue.getJobSchedulers(0, -1, true);
  return new Map(
    list.map((s) => [
      s.key,
      {
        name: s.name,
        every: s.every === undefined || s.every === null ? undefined : Number(s.every),
        pattern: s.pattern ?? undefined,
        tz: s.tz ?? undefined,
        next: s.next,
      },
    ]),
  );
}

type PendingState = 'delayed' | 'waiting' | 'prioritized';

/** Jobs the schedulers have queued for their next runs, per scheduler id. */
async function pendingRuns(queue: Queue, states: PendingState[] = ['delayed', 'waiting', 'prioritized']): Promise<Map<string, number>> {
  const jobs = await queue.getJobs(states, 0, -1, true);
  const byScheduler = new Map<string, number>();
  for (const job of jobs) {
    // A staggered scheduler's one-off first run (see reconcileSchedulers) is not one of its runs.
    if (job.id?.startsWith('first-')) continue;
    const id = job.repeatJobKey ?? `(no scheduler) ${job.name}`;
    byScheduler.set(id, (byScheduler.get(id) ?? 0) + 1);
  }
  return byScheduler;
}

const DEFAULT_IDS = ['daily-stats', 'daily-stats@alsoAt', 'leaderboards', 'project-stats', 'projects-list', 'topics'];

describe('reconcileSchedulers', () => {
  it('registers one scheduler per enabled job, plus the extra cron run of daily-stats', async () => {
    const h = await create();
    const queue = openQueue(h);

    const report = await reconcileSchedulers(queue, desired(h));

    expect([...report.upserted].sort()).toEqual(DEFAULT_IDS);
    expect(report).toMatchObject({ removed: [], unchanged: [] });
    const found = await schedulers(queue);
    expect([...found.keys()].sort()).toEqual(DEFAULT_IDS);
    expect(found.get('topics')).toMatchObject({ name: 'topics', every: 5 * MINUTE, pattern: undefined });
    expect(found.get('projects-list')).toMatchObject({ name: 'projects-list', every: 60 * MINUTE });
    expect(found.get('project-stats')).toMatchObject({ name: 'project-stats', every: 30 * MINUTE });
    expect(found.get('leaderboards')).toMatchObject({ name: 'leaderboards', every: 30 * MINUTE });
    expect(found.get('daily-stats')).toMatchObject({ name: 'daily-stats', every: 15 * MINUTE });
    expect(found.get('daily-stats@alsoAt')).toMatchObject({ name: 'daily-stats', every: undefined, pattern: '5 0 0 * * *', tz: 'Asia/Shanghai' });
    const runs = await pendingRuns(queue);
    expect(Object.fromEntries(runs)).toEqual(Object.fromEntries(DEFAULT_IDS.map((id) => [id, 1])));
    // The jobs carry the trigger and nothing secret.
    const jobs = await queue.getJobs(['delayed', 'waiting', 'prioritized'], 0, -1, true);
    for (const job of jobs) {
      expect(job.data).toMatchObject({ trigger: 'schedule' });
      expect(JSON.stringify(job)).not.toContain(h.token);
    }
  });

  it('leaves unchanged schedulers alone when run again: same ids, same next run, no extra runs', async () => {
    const h = await create();
    const queue = openQueue(h);
    await reconcileSchedulers(queue, desired(h));
    const first = await schedulers(queue);

    const report = await reconcileSchedulers(queue, desired(h));

    expect(report).toEqual({ upserted: [], removed: [], unchanged: expect.arrayContaining(DEFAULT_IDS) });
    expect(report.unchanged).toHaveLength(DEFAULT_IDS.length);
    expect(await schedulers(queue)).toEqual(first);
    expect([...(await pendingRuns(queue)).values()]).toEqual(DEFAULT_IDS.map(() => 1));
  });

  it('keeps exactly one scheduler and one pending run per id when three replicas reconcile at once', async () => {
    const h = await create();
    const queues = [openQueue(h), openQueue(h), openQueue(h)];

    const reports = await Promise.all(queues.map((q) => reconcileSchedulers(q, desired(h))));

    for (const report of reports) expect(report.removed).toEqual([]);
    const found = await schedulers(queues[0]!);
    expect([...found.keys()].sort()).toEqual(DEFAULT_IDS);
    expect(await queues[0]!.getJobSchedulersCount()).toBe(DEFAULT_IDS.length);
    const runs = await pendingRuns(queues[0]!);
    expect(Object.fromEntries(runs)).toEqual(Object.fromEntries(DEFAULT_IDS.map((id) => [id, 1])));

    // And a later start of any replica changes nothing.
    const again = await Promise.all(queues.map((q) => reconcileSchedulers(q, desired(h))));
    for (const report of again) expect(report.upserted).toEqual([]);
    expect(await schedulers(queues[1]!)).toEqual(found);
  });

  it('upserts a changed cadence in place and leaves the others’ next run as it was', async () => {
    const h = await create();
    const queue = openQueue(h);
    await reconcileSchedulers(queue, desired(h));
    const before = await schedulers(queue);

    const changed = h.reconfigure({ jobs: { topics: { every: '7m' }, 'project-stats': { cron: '0 */10 * * * *' } } });
    const report = await reconcileSchedulers(queue, desired(h, changed));

    expect([...report.upserted].sort()).toEqual(['project-stats', 'topics']);
    expect(report.removed).toEqual([]);
    const after = await schedulers(queue);
    expect([...after.keys()].sort()).toEqual(DEFAULT_IDS);
    expect(after.get('topics')).toMatchObject({ name: 'topics', every: 7 * MINUTE, pattern: undefined });
    expect(after.get('project-stats')).toMatchObject({ name: 'project-stats', every: undefined, pattern: '0 */10 * * * *', tz: 'Asia/Shanghai' });
    for (const id of DEFAULT_IDS.filter((i) => i !== 'topics' && i !== 'project-stats')) {
      expect(after.get(id), id).toEqual(before.get(id));
    }
    const runs = await pendingRuns(queue);
    expect(Object.fromEntries(runs)).toEqual(Object.fromEntries(DEFAULT_IDS.map((id) => [id, 1])));
    // Reconciling the new settings again is a no-op.
    expect((await reconcileSchedulers(queue, desired(h, changed))).upserted).toEqual([]);
  });

  it('re-registers the cron schedulers when the group’s time zone changes, and only them', async () => {
    const h = await create();
    const queue = openQueue(h);
    await reconcileSchedulers(queue, desired(h));
    const before = await schedulers(queue);

    const report = await reconcileSchedulers(queue, desired(h, h.reconfigure(undefined, { GROUP_TIMEZONE: 'Europe/Paris' })));

    expect(report.upserted).toEqual(['daily-stats@alsoAt']);
    const after = await schedulers(queue);
    expect(after.get('daily-stats@alsoAt')).toMatchObject({ pattern: '5 0 0 * * *', tz: 'Europe/Paris' });
    for (const id of DEFAULT_IDS.filter((i) => i !== 'daily-stats@alsoAt')) expect(after.get(id), id).toEqual(before.get(id));
  });

  it('removes the schedulers of disabled jobs, of a dropped alsoAt and of jobs that no longer exist', async () => {
    const h = await create();
    const queue = openQueue(h);
    await reconcileSchedulers(queue, desired(h));
    // A job file that has since been deleted left its scheduler behind.
    await queue.upsertJobScheduler('old-job', { every: 10 * MINUTE }, { name: 'old-job', data: { trigger: 'schedule' } });
    const before = await schedulers(queue);

    const changed = h.reconfigure({ jobs: { leaderboards: { enabled: false }, 'daily-stats': { alsoAt: false } } });
    const report = await reconcileSchedulers(queue, desired(h, changed));

    expect([...report.removed].sort()).toEqual(['daily-stats@alsoAt', 'leaderboards', 'old-job']);
    // project-stats was staggered behind leaderboards; alone in its cadence now, it loses its offset.
    expect(report.upserted).toEqual(['project-stats']);
    const remaining = ['daily-stats', 'project-stats', 'projects-list', 'topics'];
    const after = await schedulers(queue);
    expect([...after.keys()].sort()).toEqual(remaining);
    for (const id of remaining.filter((r) => r !== 'project-stats')) expect(after.get(id), id).toEqual(before.get(id));
    const runs = await pendingRuns(queue);
    for (const id of remaining) expect(runs.get(id), id).toBe(1);
    // Future runs of removed schedulers are gone. An `every` scheduler's first run is
    // queued as waiting at once and stays: the worker completes it as skipped.
    const delayed = await pendingRuns(queue, ['delayed']);
    for (const id of report.removed) expect(delayed.get(id), id).toBeUndefined();
  });

  it('staggers jobs of one cadence with offsets, and runs a new staggered job at once as well', async () => {
    const h = await create();
    const queue = openQueue(h);
    const wanted = desired(h);
    expect(wanted.find((d) => d.id === 'leaderboards')!.offset).toBeUndefined();
    expect(wanted.find((d) => d.id === 'project-stats')!.offset).toBe(15 * MINUTE);

    await Promise.all([0, 1, 2].map(() => reconcileSchedulers(openQueue(h), wanted)));
    const first = await queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true);
    expect(first.filter((j) => j.id?.startsWith('first-')).map((j) => j.id)).toEqual(['first-project-stats']);
    const next = (await schedulers(queue)).get('project-stats')!.next!;
    expect(next % (30 * MINUTE)).toBe(15 * MINUTE);

    // Registered again unchanged: no new first run, same next run.
    const report = await reconcileSchedulers(queue, wanted);
    expect(report.upserted).toEqual([]);
    expect((await schedulers(queue)).get('project-stats')!.next).toBe(next);
  });

  it('re-adds the next run of a scheduler whose overdue job was lost (a failover), and leaves a waiting one alone', async () => {
    const h = await create();
    const queue = openQueue(h);
    // One scheduler due at once; no worker takes its run.
    const wanted: DesiredScheduler[] = [{ id: 'topics', job: 'topics', every: 3_600_000 }];
    await reconcileSchedulers(queue, wanted);
    const next = Number((await schedulers(queue)).get('topics')!.next);
    const jobId = `repeat:topics:${next}`;
    expect(await queue.getJob(jobId)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next + 2_100 - Date.now())));

    // Overdue but waiting in the queue: only slow to be taken, not lost.
    expect((await reconcileSchedulers(queue, wanted, 'missing')).upserted).toEqual([]);

    // The job is gone (the master failed over before it was replicated): re-added.
    // (BullMQ refuses to remove a scheduler's job: delete it as a lost write would leave things.)
    const base = `${queuePrefix(h.config)}:${QUEUE_NAME}`;
    const redis = h.connect('queue');
    await redis.multi().del(`${base}:${jobId}`).lrem(`${base}:wait`, 0, jobId).zrem(`${base}:delayed`, jobId).zrem(`${base}:prioritized`, jobId).exec();
    expect(await queue.getJob(jobId)).toBeUndefined();
    const report = await reconcileSchedulers(queue, wanted, 'missing');
    expect(report.upserted).toEqual(['topics']);
    expect([...(await pendingRuns(queue)).values()]).toEqual([1]);
  });
});
