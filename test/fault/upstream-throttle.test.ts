/**
 * Fault suite, upstream half: throttling (HTTP 429 with Retry-After, envelope
 * code 1059). A throttled refresh stops starting units, keeps every value, is
 * counted apart from failures, and through BullMQ backs off the whole queue
 * without failing the job.
 */
import { Job, Queue, type Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/runtime.js';
import type { WarmJobData } from '../../src/schedule/schedulers.js';
import { startWorker } from '../../src/worker/worker.js';
import { harnessPerTest, nextMillisecond, waitFor, type Harness } from '../support/harness.js';
import type { Fault } from '../support/simulator/server.js';
import { cachedAt, expectKept, expectNoSecret, ongoing, setTtls, snapshot, statusHash } from '../support/fault-kit.js';

// One request at a time: "no unit starts after the throttle" is then exact.
const create = harnessPerTest({ projects: 8, env: { UPSTREAM_CONCURRENCY: '1' } });

async function warmTopics(h: Harness) {
  expect((await h.run('projects-list')).ok).toBe(true);
  expect((await h.run('topics')).ok).toBe(true);
  await nextMillisecond();
  h.sim.resetRequests();
  return snapshot(h, (key) => key.endsWith(':topics'));
}

const THROTTLES: { label: string; fault: () => Fault; env?: Record<string, string>; delayMs: number; slackMs?: number }[] = [
  { label: 'HTTP 429 with Retry-After: 3', fault: () => ({ kind: 'status', status: 429, retryAfter: '3' }), delayMs: 3_000 },
  {
    label: 'HTTP 429 with Retry-After as an HTTP date 4 s ahead',
    fault: () => ({ kind: 'status', status: 429, retryAfter: new Date(Date.now() + 4_000).toUTCString() }),
    delayMs: 4_000,
    // An HTTP date has whole seconds: the wait is up to a second shorter than asked.
    slackMs: 1_100,
  },
  {
    label: 'HTTP 429 asking for 2 minutes, capped by UPSTREAM_MAX_RETRY_AFTER=7s',
    fault: () => ({ kind: 'status', status: 429, retryAfter: '120' }),
    env: { UPSTREAM_MAX_RETRY_AFTER: '7s' },
    delayMs: 7_000,
  },
  { label: 'HTTP 429 without Retry-After', fault: () => ({ kind: 'status', status: 429 }), delayMs: 2_000 },
  { label: 'envelope code 1059', fault: () => ({ kind: 'envelope', code: 1059 }), delayMs: 2_000 },
];

describe('a throttled refresh', () => {
  it.each(THROTTLES)('$label: stops after the first throttled request, keeps every value and is counted as a throttle, not a failure', async ({ fault, env, delayMs, slackMs = 0 }) => {
    const h = await create(env ? { env } : {});
    const before = await warmTopics(h);
    // Short TTLs, so that serving stale the units that were never started shows.
    await setTtls(h, 5_000);
    h.sim.fault({ ...fault(), route: 'topics' });

    const result = await h.run('topics');

    expect(result.outcome).toBe('throttled');
    expect(result.ok).toBe(false);
    expect(result.retryAfterMs).toBeLessThanOrEqual(delayMs);
    expect(result.retryAfterMs).toBeGreaterThanOrEqual(delayMs - slackMs);
    expect(h.sim.count('topics')).toBe(1);
    expect(h.sim.count()).toBe(1);
    expect(result.keysWritten).toBe(0);
    await expectKept(h, before);
    for (const key of before.keys()) {
      if (!/"topics":\[\]/.test(before.get(key)!.raw)) expect(await h.redis.pttl(key), `TTL of ${key}`).toBeGreaterThan(5_000);
    }
    const status = await statusHash(h, 'topics');
    expect(status).toMatchObject({ runs: '1', successes: '1', throttles: '1', lastResult: 'ok', lastThrottleDelayMs: String(result.retryAfterMs) });
    expect(status.failures).toBeUndefined();
    expect(status.lastError).toBeUndefined();
    expect(Number(status.lastThrottledAt)).toBeGreaterThan(Number(status.lastSuccessAt));
    await expectNoSecret(h);
  });

  it('repeated 1059s escalate the back-off 2 s, 5 s, 10 s, stay at 10 s, and start over at 2 s after a success', async () => {
    const h = await create();
    await warmTopics(h);
    h.sim.fault({ route: 'topics', kind: 'envelope', code: 1059 });

    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 4; i += 1) delays.push((await h.run('topics')).retryAfterMs);
    h.sim.clearFaults();
    expect((await h.run('topics')).outcome).toBe('ok');
    h.sim.fault({ route: 'topics', kind: 'envelope', code: 1059 });
    delays.push((await h.run('topics')).retryAfterMs);

    expect(delays).toEqual([2_000, 5_000, 10_000, 10_000, 2_000]);
    expect(await statusHash(h, 'topics')).toMatchObject({ throttles: '5', runs: '2', successes: '2' });
  });

  it('the escalation of 1059 is capped by UPSTREAM_MAX_RETRY_AFTER', async () => {
    const h = await create({ env: { UPSTREAM_MAX_RETRY_AFTER: '3s' } });
    await warmTopics(h);
    h.sim.fault({ route: 'topics', kind: 'envelope', code: 1059 });

    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 3; i += 1) delays.push((await h.run('topics')).retryAfterMs);

    expect(delays).toEqual([2_000, 3_000, 3_000]);
  });

  // Regression (fixed): src/upstream/state.ts ThrottleState.hit() escalates once per throttled
  // *response*. With the default UPSTREAM_CONCURRENCY of 4, the four requests in
  // flight when the upstream starts throttling come back 1059 together, and the
  // very first back-off is 10 s instead of the 2 s the app's own clients start with.
  it('requests throttled together count as one throttle: the first back-off is 2 s at any concurrency', async () => {
    const h = await create({ env: { UPSTREAM_CONCURRENCY: '4' } });
    await warmTopics(h);
    expect(ongoing(h).length).toBeGreaterThanOrEqual(4);
    h.sim.fault({ route: 'topics', kind: 'envelope', code: 1059 });

    const result = await h.run('topics');

    expect(result.outcome).toBe('throttled');
    expect(h.sim.count('topics')).toBeLessThanOrEqual(4);
    expect(result.retryAfterMs).toBe(2_000);
  });
});

describe('a throttled job in the queue', () => {
  function openQueue(h: Harness): Queue<WarmJobData> {
    const queue = new Queue<WarmJobData>(QUEUE_NAME, { connection: h.connect('queue'), prefix: `{${h.prefix}}:bull` });
    queue.on('error', (error) => h.logger.error({ err: error }, 'queue error'));
    return h.track(queue);
  }

  function openWorker(h: Harness): Worker<WarmJobData> {
    return h.track(
      startWorker({
        queueName: QUEUE_NAME,
        prefix: `{${h.prefix}}:bull`,
        connection: h.connect('queue'),
        concurrency: 1,
        plans: h.runtime.plans,
        run: h.runtime.run,
        logger: h.logger,
      }),
    );
  }

  async function finished(queue: Queue<WarmJobData>, id: string | undefined): Promise<Job<WarmJobData>> {
    return waitFor(
      `job ${id} to finish`,
      async () => {
        const job = await Job.fromId<WarmJobData>(queue, id!);
        return job?.finishedOn ? job : undefined;
      },
      { timeoutMs: 8_000, intervalMs: 20 },
    );
  }

  it.each([
    { label: 'HTTP 429 with Retry-After: 2', fault: { kind: 'status', status: 429, retryAfter: '2' } as Fault },
    { label: 'envelope code 1059', fault: { kind: 'envelope', code: 1059 } as Fault },
  ])('$label: the whole queue backs off for the delay, the job does not fail, and completes once the upstream answers', async ({ fault }) => {
    const h = await create();
    await warmTopics(h);
    const queue = openQueue(h);
    const worker = openWorker(h);
    const failed: string[] = [];
    worker.on('failed', (job, error) => failed.push(`${job?.name}: ${error.message}`));
    h.sim.fault({ ...fault, route: 'topics', times: 1 });
    const limiter = `{${h.prefix}}:bull:${QUEUE_NAME}:limiter`;

    const throttled = await queue.add('topics', { trigger: 'manual' });
    const other = await queue.add('project-stats', { trigger: 'manual' });
    // The limiter key also counts fetched jobs (with the limiter's 1 s window);
    // a manual rate limit is the key set to MAX_SAFE_INTEGER with the delay as TTL.
    const pttl = await waitFor('the queue to be rate limited', async () => {
      const [value, ms] = await Promise.all([h.redis.get(limiter), h.redis.pttl(limiter)]);
      return value === String(Number.MAX_SAFE_INTEGER) && ms > 0 ? ms : undefined;
    });
    const limitedAt = Date.now();

    expect(pttl).toBeLessThanOrEqual(2_000);
    expect(pttl).toBeGreaterThan(1_500);
    const [first, second] = [await finished(queue, throttled.id), await finished(queue, other.id)];
    expect(await first.getState()).toBe('completed');
    expect(await second.getState()).toBe('completed');
    expect(failed).toEqual([]);
    // The whole queue waited: the other job's first request came after the delay.
    const statsAt = Math.min(...h.sim.requests.filter((r) => r.route === 'statistics').map((r) => r.at));
    expect(statsAt - limitedAt).toBeGreaterThanOrEqual(pttl - 100);
    for (const p of ongoing(h)) expect(await cachedAt(h, h.key('project', p.checkin_id, 'topics'))).toBeGreaterThan(limitedAt);
    expect(await statusHash(h, 'topics')).toMatchObject({ runs: '2', successes: '2', throttles: '1', lastTrigger: 'manual' });
    expect((await statusHash(h, 'topics')).failures).toBeUndefined();
    await expectNoSecret(h);
  });
});
