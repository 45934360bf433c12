/**
 * Fault suite, upstream half: transient failures (5xx, connection resets,
 * requests that never answer) are retried with exponential backoff, within the
 * per-request deadline and the per-refresh retry budget; failures a retry
 * cannot fix (envelope codes 1030, 14210) are tried once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WarmerError } from '../../src/shared/errors.js';
import { harnessPerTest, nextMillisecond, type Harness } from '../support/harness.js';
import type { Fault } from '../support/simulator/server.js';
import {
  attemptsOn,
  cachedAt,
  expectFailureRecorded,
  expectKept,
  expectNoSecret,
  ongoing,
  pinJitter,
  snapshot,
  statusHash,
} from '../support/fault-kit.js';

// Every unit at once: a retried unit costs one backoff, not one per wave.
const create = harnessPerTest({ projects: 6, env: { UPSTREAM_CONCURRENCY: '16' } });

// Jitter pinned at half the range: the first retry waits 250 ms, the second
// 500 ms (base 500 ms, doubling), so counts and gaps are exact.
let restoreJitter: () => void = () => undefined;
beforeEach(() => {
  restoreJitter = pinJitter(0.5);
});
afterEach(() => restoreJitter());

const topicsPath = (h: Harness, projectId: string) => `/v2/groups/${h.groupId}/checkins/${projectId}/topics`;

/** Warms the projects list and the topics of every ongoing project; returns the topics keys' snapshot. */
async function warmTopics(h: Harness) {
  expect((await h.run('projects-list')).ok).toBe(true);
  expect((await h.run('topics')).ok).toBe(true);
  await nextMillisecond();
  h.sim.resetRequests();
  return snapshot(h, (key) => key.endsWith(':topics'));
}

interface Transient {
  label: string;
  fault: Fault;
  code: string;
  mentions: string;
  /** Time one failed attempt takes before the client gives up on it. */
  attemptMs: number;
}

// Short per-attempt timeout, so that a hanging upstream costs 300 ms per attempt.
const TIMEOUT_ENV = { UPSTREAM_TIMEOUT: '300ms' };
const TRANSIENT: Transient[] = [
  ...[500, 502, 503, 504].map((status) => ({
    label: `HTTP ${status}`,
    fault: { kind: 'status', status } as Fault,
    code: 'ERR_UPSTREAM_HTTP',
    mentions: `HTTP ${status}`,
    attemptMs: 0,
  })),
  { label: 'a connection reset', fault: { kind: 'reset' }, code: 'ERR_UPSTREAM_NETWORK', mentions: 'ECONNRESET', attemptMs: 0 },
  { label: 'an upstream that never answers', fault: { kind: 'hang' }, code: 'ERR_UPSTREAM_TIMEOUT', mentions: 'timed out', attemptMs: 300 },
];

describe('a transient upstream failure', () => {
  it.each(TRANSIENT)('$label once is absorbed by a retry: the refresh succeeds and every key is fresh', async ({ fault }) => {
    const h = await create({ env: TIMEOUT_ENV });
    const before = await warmTopics(h);
    const victim = ongoing(h)[0]!;
    h.sim.fault({ ...fault, route: 'topics', projectId: victim.checkin_id, times: 1 });
    const started = Date.now();

    const result = await h.run('topics');

    expect(result).toMatchObject({ outcome: 'ok', itemsOk: ongoing(h).length, itemsFailed: 0 });
    expect(attemptsOn(h, topicsPath(h, victim.checkin_id))).toHaveLength(2);
    expect(h.sim.count('topics')).toBe(ongoing(h).length + 1);
    for (const key of before.keys()) expect(await cachedAt(h, key), key).toBeGreaterThanOrEqual(started);
    const status = await statusHash(h, 'topics');
    expect(status).toMatchObject({ runs: '2', successes: '2', lastResult: 'ok' });
    expect(status.lastError).toBeUndefined();
    await expectNoSecret(h);
  });

  it.each(TRANSIENT)(
    '$label on every attempt is retried twice with exponential backoff, then fails the unit and keeps its value',
    async ({ fault, code, mentions, attemptMs }) => {
      const h = await create({ env: TIMEOUT_ENV });
      const before = await warmTopics(h);
      h.sim.fault({ ...fault, route: 'topics' });

      const result = await h.run('topics');

      expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: ongoing(h).length, keysWritten: 0 });
      expect((result.error as WarmerError).code).toBe(code);
      for (const project of ongoing(h)) {
        const at = attemptsOn(h, topicsPath(h, project.checkin_id));
        expect(at, `attempts on project ${project.checkin_id}`).toHaveLength(3);
        // 250 ms before the first retry, 500 ms before the second (timer slack: 15 ms).
        expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(attemptMs + 250 - 15);
        expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(attemptMs + 500 - 15);
        expect(at[2]! - at[1]!).toBeLessThan(attemptMs + 500 + 400);
      }
      await expectKept(h, before);
      await expectFailureRecorded(h, 'topics', code, mentions);
      await expectNoSecret(h);
    },
  );

  it.each(TRANSIENT.filter((t) => ['HTTP 503', 'a connection reset', 'an upstream that never answers'].includes(t.label)))(
    '$label everywhere: the retries of a whole refresh stop at its retry budget',
    async ({ fault, code, mentions }) => {
      // 40 projects: about 28 ongoing, which would ask for 56 retries; the
      // budget is max(10, 20 % of the units) = 10 (src/upstream/retry-budget.ts).
      const h = await create({ projects: 40, env: { UPSTREAM_TIMEOUT: '150ms', UPSTREAM_CONCURRENCY: '8' } });
      const before = await warmTopics(h);
      const units = ongoing(h).length;
      const budget = Math.max(10, Math.ceil(units * 0.2));
      expect(units * 2).toBeGreaterThan(budget);
      h.sim.fault({ ...fault, route: 'topics' });

      const result = await h.run('topics');

      expect(result).toMatchObject({ outcome: 'failed', itemsFailed: units });
      expect(h.sim.count('topics')).toBe(units + budget);
      for (const project of ongoing(h)) expect(attemptsOn(h, topicsPath(h, project.checkin_id)).length).toBeLessThanOrEqual(3);
      await expectKept(h, before);
      await expectFailureRecorded(h, 'topics', code, mentions);
    },
  );

  it('a request that outlives its deadline is abandoned, retries included, and reported as a timeout', async () => {
    // One attempt times out after 300 ms; its retry would start at 550 ms, past the 450 ms deadline.
    const h = await create({ env: { UPSTREAM_TIMEOUT: '300ms', UPSTREAM_DEADLINE: '450ms' } });
    const before = await warmTopics(h);
    h.sim.fault({ route: 'topics', kind: 'hang' });
    const started = Date.now();

    const result = await h.run('topics');

    expect(Date.now() - started).toBeLessThan(450 + 400);
    expect(result).toMatchObject({ outcome: 'failed', itemsFailed: ongoing(h).length });
    expect(h.sim.count('topics')).toBe(ongoing(h).length);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_TIMEOUT', 'no answer within 450 ms (retries included)');
    await expectNoSecret(h);
  });

  // Regression (fixed): src/upstream/client.ts calculateDelay returns Math.round(random × base × 2^n),
  // which is 0 when the draw is small (1 in 1,000 for the first retry at the default
  // 500 ms base); got reads a delay of 0 as "do not retry". The retry is silently
  // dropped, and a unit of the retry budget is spent on it all the same.
  it('a retry whose jitter draws zero is still made', async () => {
    const h = await create();
    const before = await warmTopics(h);
    restoreJitter();
    restoreJitter = pinJitter(0);
    const victim = ongoing(h)[0]!;
    h.sim.fault({ route: 'topics', projectId: victim.checkin_id, kind: 'status', status: 503, times: 1 });

    const result = await h.run('topics');

    expect(attemptsOn(h, topicsPath(h, victim.checkin_id))).toHaveLength(2);
    expect(result).toMatchObject({ outcome: 'ok', itemsFailed: 0 });
    expect(await h.redis.get(h.key('project', victim.checkin_id, 'topics'))).not.toBe(before.get(h.key('project', victim.checkin_id, 'topics'))!.raw);
  });
});

describe('a failure a retry cannot fix', () => {
  it.each([
    { code: 1030, meaning: 'permission denied' },
    { code: 14210, meaning: 'membership expired' },
  ])('envelope code $code is tried exactly once per unit, even with five retries allowed, and fails naming the code', async ({ code, meaning }) => {
    const h = await create({ env: { UPSTREAM_RETRIES: '5' } });
    const before = await warmTopics(h);
    h.sim.fault({ route: 'topics', kind: 'envelope', code });
    const attemptsBefore = h.runtime.run.upstream.attempts;

    const result = await h.run('topics');

    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: ongoing(h).length });
    expect(h.sim.count('topics')).toBe(ongoing(h).length);
    expect(h.runtime.run.upstream.attempts - attemptsBefore).toBe(ongoing(h).length);
    expect(result.error!.message).toContain(`code ${code} (${meaning})`);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_REJECTED', `code ${code} (${meaning})`);
    await expectNoSecret(h);
  });

  it('envelope code 14210 on the projects list keeps every list and info value and is tried once per scope', async () => {
    const h = await create({ env: { UPSTREAM_RETRIES: '5' } });
    expect((await h.run('projects-list')).ok).toBe(true);
    const before = await snapshot(h);
    await nextMillisecond();
    h.sim.resetRequests();
    h.sim.fault({ route: 'projects', kind: 'envelope', code: 14210 });

    const result = await h.run('projects-list');

    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: 3 });
    expect(h.sim.count('projects')).toBe(3);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'projects-list', 'ERR_UPSTREAM_REJECTED', 'code 14210 (membership expired)');
  });
});
