/**
 * Fault suite, upstream half: HTTP 401. The first 401 closes the auth gate on
 * the refused token: nothing more is sent with it (no retry storm), every
 * refresh fails with ERR_UPSTREAM_AUTH, values are kept; a token rotated in
 * UPSTREAM_TOKEN_FILE opens it again. The daemon marks every job "auth failed"
 * and logs the event once.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDaemon } from '../../src/daemon.js';
import { eventually, spawnCli, type DaemonProcess, type LogLine } from '../support/daemon.js';
import { harnessPerTest, nextMillisecond, waitFor, type Harness } from '../support/harness.js';
import { cachedAt, dumpPrefix, expectFailureRecorded, expectKept, expectNoSecret, ongoing, setTtls, snapshot, statusHash } from '../support/fault-kit.js';

const create = harnessPerTest({ projects: 8 });

/** A token of the real shape: `8D0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C`. */
const newToken = () => `${randomUUID().toUpperCase()}_${randomBytes(8).toString('hex').toUpperCase()}`;

/**
 * A token file in a private directory (removed by `remove`), rewritten
 * atomically, the way a secret rotation replaces it.
 */
function tokenFile() {
  const dir = mkdtempSync(join(tmpdir(), 'cw-token-'));
  const path = join(dir, 'upstream_token');
  return {
    dir,
    path,
    write(token: string) {
      writeFileSync(`${path}.tmp`, `${token}\n`);
      renameSync(`${path}.tmp`, path);
    },
    remove: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Waits until the configuration reads `token` from the file (it re-reads at most once a second). */
async function tokenPickedUp(h: Harness, token: string): Promise<void> {
  await waitFor('the rotated token to be read', () => (h.config.upstream.token() === token ? true : undefined), { timeoutMs: 3_000, intervalMs: 50 });
}

describe('a refused token (HTTP 401)', () => {
  it('closes the gate at once: no request is sent with it again, every refresh fails with ERR_UPSTREAM_AUTH, and a rotated token file resumes the refreshes', async () => {
    const file = tokenFile();
    const [first, unknown, second] = [newToken(), newToken(), newToken()];
    file.write(first);
    // One request at a time, so that "the rest of the refresh sends nothing" is exact.
    const h = await create({ env: { UPSTREAM_TOKEN: '', UPSTREAM_TOKEN_FILE: file.path, UPSTREAM_CONCURRENCY: '1' } });
    h.track({ close: file.remove });
    h.sim.setToken(first);
    const gate = h.runtime.run.upstream.auth;
    const events: string[] = [];
    gate.on('closed', () => events.push('closed'));
    gate.on('opened', () => events.push('opened'));
    expect((await h.run('projects-list')).ok).toBe(true);
    expect((await h.run('topics')).ok).toBe(true);
    const before = await snapshot(h);
    await nextMillisecond();
    h.sim.resetRequests();

    // The upstream revokes the token.
    h.sim.setToken(second);
    const refused = await h.run('topics');

    expect(refused).toMatchObject({ outcome: 'failed', itemsOk: 0, keysWritten: 0 });
    expect(h.sim.count()).toBe(1);
    expect(h.sim.requests[0]).toMatchObject({ route: 'topics', authorized: false, status: 401 });
    expect(gate.isClosed).toBe(true);
    expect(events).toEqual(['closed']);
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_AUTH', 'HTTP 401', [first, second]);

    // Later refreshes, of any job, send nothing at all.
    for (const job of ['topics', 'projects-list', 'leaderboards', 'project-stats', 'daily-stats']) {
      const result = await h.run(job);
      expect(result.outcome, job).toBe('failed');
      expect(result.error?.message, job).toContain('not sent, the upstream refused this token');
      await expectFailureRecorded(h, job, 'ERR_UPSTREAM_AUTH', 'not sent', [first, second]);
    }
    expect(h.sim.count()).toBe(1);
    expect(events).toEqual(['closed']);
    await expectKept(h, before);

    // A rotated token the upstream refuses too costs one request, then the gate closes on it.
    file.write(unknown);
    await tokenPickedUp(h, unknown);
    expect((await h.run('topics')).outcome).toBe('failed');
    expect((await h.run('topics')).outcome).toBe('failed');
    expect(h.sim.count()).toBe(2);
    expect(events).toEqual(['closed', 'closed']);

    // The operator writes the token the upstream accepts: the next refresh sends and succeeds.
    file.write(second);
    await tokenPickedUp(h, second);
    const resumedAt = Date.now();
    const resumed = await h.run('topics');

    expect(resumed).toMatchObject({ outcome: 'ok', itemsOk: ongoing(h).length, itemsFailed: 0 });
    expect(h.sim.count('topics')).toBe(2 + ongoing(h).length);
    expect(h.sim.requests.slice(2).every((r) => r.authorized)).toBe(true);
    expect(gate.isClosed).toBe(false);
    expect(events).toEqual(['closed', 'closed', 'opened']);
    for (const p of ongoing(h)) expect(await cachedAt(h, h.key('project', p.checkin_id, 'topics'))).toBeGreaterThanOrEqual(resumedAt);
    expect(await statusHash(h, 'topics')).toMatchObject({ lastResult: 'ok' });
    await expectNoSecret(h, [first, unknown, second]);
  });

  it('a 401 in the middle of a refresh keeps what was written, starts no further unit, and serves the rest stale', async () => {
    const h = await create({ env: { UPSTREAM_CONCURRENCY: '1' } });
    expect((await h.run('projects-list')).ok).toBe(true);
    expect((await h.run('topics')).ok).toBe(true);
    const order = ongoing(h).map((p) => h.key('project', p.checkin_id, 'topics'));
    expect(order.length).toBeGreaterThanOrEqual(4);
    await setTtls(h, 5_000, (key) => key.endsWith(':topics'));
    const before = await snapshot(h, (key) => key.endsWith(':topics'));
    await nextMillisecond();
    h.sim.resetRequests();
    // Units are taken in list order, one at a time: the first two answer, the third is refused.
    h.sim.fault({ route: 'topics', kind: 'delay', ms: 0, times: 2 });
    h.sim.fault({ route: 'topics', kind: 'status', status: 401, times: 1 });
    const started = Date.now();

    const result = await h.run('topics');

    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 2, itemsFailed: 1, keysWritten: 2 });
    expect(h.sim.count('topics')).toBe(3);
    for (const key of order.slice(0, 2)) expect(await cachedAt(h, key), key).toBeGreaterThanOrEqual(started);
    for (const key of order.slice(2)) {
      const was = before.get(key)!;
      expect(await h.redis.get(key), key).toBe(was.raw);
      const pttl = await h.redis.pttl(key);
      if (/"topics":\[\]/.test(was.raw)) expect(pttl, `TTL of empty ${key}`).toBeLessThanOrEqual(5_000);
      else expect(pttl, `TTL of ${key}`).toBeGreaterThan(5_000);
    }
    // Not a partial failure: the refused token is what the operator must see.
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_AUTH', 'HTTP 401, the upstream token is expired or revoked');
    await expectNoSecret(h);
  });
});

describe('the daemon, when the upstream refuses its token', () => {
  const JOBS = ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics'];

  it('[slow] marks every job auth failed, logs one error, sends nothing more, and resumes by itself when the token file is rotated', async () => {
    const h = await create({ projects: 6 });
    const file = tokenFile();
    h.track({ close: file.remove });
    const [first, second] = [newToken(), newToken()];
    file.write(first);
    h.sim.setToken(first);
    const config = join(file.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ jobs: Object.fromEntries(JOBS.map((job) => [job, { every: '1s' }])) }));
    const daemon: DaemonProcess = spawnCli(['run', '--config', config], {
      REDIS_URL: h.config.redis.url,
      CACHE_PREFIX: h.prefix,
      UPSTREAM_BASE_URL: h.sim.url,
      UPSTREAM_TOKEN_FILE: file.path,
      UPSTREAM_GROUP_ID: h.groupId,
      LOG_LEVEL: 'info',
    });
    h.track({ close: () => daemon.stop('SIGKILL') });
    const statuses = () => Promise.all(JOBS.map((job) => statusHash(h, job)));

    await eventually(async () => ((await statuses()).every((s) => Number(s.successes) >= 1) ? true : undefined), 15_000, 'every job to succeed once');

    // The upstream revokes the token.
    h.sim.setToken(second);
    const revokedAt = Date.now();
    const marked = await eventually(async () => {
      const all = await statuses();
      return all.every((s) => Number(s.authFailedAt) >= revokedAt) ? all : undefined;
    }, 10_000, 'every job to be marked auth failed');
    // Runs every second (staggered) may still have been writing when the token was revoked:
    // the values to keep are those present once every job is marked.
    const warm = await snapshot(h);
    for (const s of marked) {
      expect(s.lastError).toMatch(/^ERR_UPSTREAM_AUTH: /);
      for (const secret of [first, second]) expect(s.lastError).not.toContain(secret);
    }

    // No retry storm: only requests already in flight when the first 401 came back were refused,
    // and over several cadences nothing more is sent.
    const refused = h.sim.requests.filter((r) => !r.authorized).length;
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(2 * 4); // worker concurrency × upstream concurrency
    const sentBefore = h.sim.count();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(h.sim.count()).toBe(sentBefore);
    for (const s of await statuses()) expect(Number(s.failures), 'failed runs during the outage').toBeGreaterThanOrEqual(1);
    const errors = daemon.logs.filter((line: LogLine) => (line.level ?? 0) >= 50);
    expect(errors.map((line) => line.msg)).toEqual([expect.stringContaining('upstream token refused (HTTP 401)')]);
    for (const [key, value] of warm) expect(await h.redis.get(key), key).toBe(value.raw);

    // The operator rotates the secret file: refreshes resume and the marks clear.
    file.write(second);
    const rotatedAt = Date.now();
    await eventually(async () => {
      const all = await statuses();
      return all.every((s) => s.authFailedAt === undefined && Number(s.lastSuccessAt) >= rotatedAt) ? true : undefined;
    }, 10_000, 'every job to succeed again and its auth-failed mark to clear');
    expect(daemon.logs.some((line) => line.msg === 'upstream accepts the token again: refreshes resume')).toBe(true);
    for (const p of ongoing(h)) expect(await cachedAt(h, h.key('project', p.checkin_id, 'topics'))).toBeGreaterThanOrEqual(rotatedAt);

    expect(await daemon.stop('SIGTERM')).toBe(0);
    const output = daemon.output();
    const dump = await dumpPrefix(h);
    for (const secret of [first, second]) {
      expect(output.includes(secret), 'a token in the daemon output').toBe(false);
      expect(dump.includes(secret), 'a token stored under the prefix').toBe(false);
    }
  });

  // Regression (fixed): src/daemon.ts marks *every* plan auth failed, disabled ones included
  // (`plans.map((p) => p.job.name)`). A disabled job never runs, so nothing ever
  // clears the mark: `status` shows it "auth failed" with ERR_UPSTREAM_AUTH for
  // good, long after the token was rotated.
  it('does not mark a disabled job auth failed, since no run of it would ever clear the mark', async () => {
    const h = await create({ projects: 4 });
    const config = h.reconfigure({
      jobs: {
        'projects-list': { every: '1s' },
        topics: { every: '1s' },
        'project-stats': { enabled: false },
        leaderboards: { enabled: false },
        'daily-stats': { enabled: false },
      },
    });
    const daemon = createDaemon(h.jobs, config, h.logger);
    h.track({ close: () => daemon.stop() });
    await daemon.start();
    await waitFor('topics to succeed once', async () => (Number((await statusHash(h, 'topics')).successes) >= 1 ? true : undefined), { timeoutMs: 10_000 });

    h.sim.setToken(newToken());
    await waitFor('topics to be marked auth failed', async () => ((await statusHash(h, 'topics')).authFailedAt ? true : undefined), { timeoutMs: 10_000 });

    for (const job of ['project-stats', 'leaderboards', 'daily-stats']) {
      expect((await statusHash(h, job)).authFailedAt, `authFailedAt of disabled ${job}`).toBeUndefined();
    }
  });
});
