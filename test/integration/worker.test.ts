import { Job, Queue, type Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { JobPlan } from '../../src/definition/parse.js';
import { QUEUE_NAME, queuePrefix } from '../../src/runtime.js';
import { desiredSchedulers, reconcileSchedulers, type WarmJobData } from '../../src/schedule/schedulers.js';
import { startWorker } from '../../src/worker/worker.js';
import { harnessPerTest, waitFor, type Harness } from '../support/harness.js';

const create = harnessPerTest({ projects: 6 });

function openQueue(h: Harness): Queue<WarmJobData> {
  const queue = new Queue<WarmJobData>(QUEUE_NAME, { connection: h.connect('queue'), prefix: queuePrefix(h.config) });
  queue.on('error', (error) => h.logger.error({ err: error }, 'queue error'));
  return h.track(queue);
}

function openWorker(h: Harness, plans: ReadonlyMap<string, JobPlan> = h.runtime.plans): Worker<WarmJobData> {
  return h.track(
    startWorker({
      queueName: QUEUE_NAME,
      prefix: queuePrefix(h.config),
      connection: h.connect('queue'),
      concurrency: 2,
      plans,
      run: h.runtime.run,
      logger: h.logger,
    }),
  );
}

/** The job once BullMQ has finished it (completed or failed). */
async function finished(queue: Queue<WarmJobData>, id: string | undefined): Promise<Job<WarmJobData>> {
  return waitFor(
    `job ${id} to finish`,
    async () => {
      const job = await Job.fromId<WarmJobData>(queue, id!);
      return job?.finishedOn ? job : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 25 },
  );
}

const ongoing = (h: Harness) => h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted);

describe('the worker', () => {
  it('runs the refresh a job named topics asks for and writes its keys', async () => {
    const h = await create();
    const queue = openQueue(h);
    openWorker(h);

    const added = await queue.add('topics', { trigger: 'manual' });
    const job = await finished(queue, added.id);

    expect(await job.getState()).toBe('completed');
    const projects = ongoing(h);
    expect(job.returnvalue).toEqual({ keys: projects.length, bytes: expect.any(Number), items: projects.length, durationMs: expect.any(Number) });
    const keys = await h.cacheKeys();
    for (const p of projects) {
      const value = await h.json(h.key('project', p.checkin_id, 'topics'));
      expect(value.topics.map((t: { topic_id: string }) => t.topic_id)).toEqual(p.topics.slice(0, 20).map((t) => t.topic_id));
    }
    expect(keys.filter((k) => k.endsWith(':topics'))).toHaveLength(projects.length);
    const [status] = await h.runtime.run.status.read(['topics']);
    expect(status).toMatchObject({ runs: 1, successes: 1, lastTrigger: 'manual', lastKeysWritten: projects.length });
  });

  it('records a job with the schedule trigger as a scheduled run', async () => {
    const h = await create();
    const queue = openQueue(h);
    openWorker(h);

    const added = await queue.add('project-stats', { trigger: 'schedule' });
    expect(await (await finished(queue, added.id)).getState()).toBe('completed');
    const [status] = await h.runtime.run.status.read(['project-stats']);
    expect(status).toMatchObject({ runs: 1, successes: 1, lastTrigger: 'schedule' });
  });

  it('completes a job whose name is no job here as skipped, without any work', async () => {
    const h = await create();
    const queue = openQueue(h);
    openWorker(h);

    const added = await queue.add('removed-job', { trigger: 'schedule' });
    const job = await finished(queue, added.id);

    expect(await job.getState()).toBe('completed');
    expect(job.returnvalue).toEqual({ skipped: true });
    expect(h.sim.count()).toBe(0);
    expect(await h.cacheKeys()).toEqual([]);
    expect(await h.runtime.run.status.knownJobs()).toEqual([]);
    expect(h.logs.some((line) => line.includes('skipping a job that is not enabled here') && line.includes('removed-job'))).toBe(true);
  });

  it('completes a job of a disabled job as skipped', async () => {
    const h = await create();
    const queue = openQueue(h);
    openWorker(h, h.plansOf(h.reconfigure({ jobs: { topics: { enabled: false } } })));

    const added = await queue.add('topics', { trigger: 'schedule' });
    const job = await finished(queue, added.id);

    expect(job.returnvalue).toEqual({ skipped: true });
    expect(h.sim.count()).toBe(0);
  });

  it('marks the BullMQ job failed when its refresh fails, naming the upstream code and not the token', async () => {
    const h = await create();
    const queue = openQueue(h);
    openWorker(h);
    h.sim.fault({ route: 'topics', kind: 'envelope', code: 1030 });

    const added = await queue.add('topics', { trigger: 'manual' });
    const job = await finished(queue, added.id);

    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('code 1030 (permission denied)');
    expect(JSON.stringify(job)).not.toContain(h.token);
    const [status] = await h.runtime.run.status.read(['topics']);
    expect(status).toMatchObject({ runs: 1, failures: 1, itemsFailed: ongoing(h).length });
    expect(h.logs.join('\n')).not.toContain(h.token);
  });

  it('runs the first scheduled run of every job the schedulers register', async () => {
    const h = await create();
    const queue = openQueue(h);
    await reconcileSchedulers(queue, desiredSchedulers([...h.runtime.plans.values()], h.config.group.timezone));
    openWorker(h);

    const names = h.jobs.map((j) => j.name).sort();
    await waitFor(
      'the first run of every job',
      async () => ((await queue.getJobCounts('completed')).completed! >= names.length ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 25 },
    );
    const completed = await queue.getJobs(['completed'], 0, -1, true);
    expect(completed.map((j) => j.name).sort()).toEqual(names);
    const statuses = await h.runtime.run.status.read(names);
    for (const status of statuses) expect(status, status.name).toMatchObject({ runs: 1, successes: 1, lastTrigger: 'schedule' });
    const keys = await h.cacheKeys();
    for (const p of ongoing(h)) {
      for (const suffix of ['info', 'stats', 'daily_stats', 'topics', 'leaderboard:continuous', 'leaderboard:accumulated']) {
        expect(keys).toContain(h.key('project', p.checkin_id, suffix));
      }
    }
  });
});
