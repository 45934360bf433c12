/**
 * Fault suite, upstream half: answers that are not what they claim. A 200
 * whose envelope fails, bodies that are not JSON or not an object, bodies over
 * the size cap (also when gzip inflates them), bodies that never end, and
 * redirects: each fails the unit with its code, keeps the last good value,
 * and leaks no token.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime.js';
import { runJob } from '../../src/worker/run-job.js';
import { harnessPerTest, nextMillisecond, type Harness } from '../support/harness.js';
import { gzipBomb, startBombServer } from '../support/gzip-bomb.js';
import { expectFailureRecorded, expectKept, expectNoSecret, ongoing, snapshot, withPeakRss } from '../support/fault-kit.js';

const create = harnessPerTest({ projects: 6 });

const MB = 1024 * 1024;

async function warm(h: Harness, job: string) {
  expect((await h.run('projects-list')).ok).toBe(true);
  if (job !== 'projects-list') expect((await h.run(job)).ok).toBe(true);
  await nextMillisecond();
  h.sim.resetRequests();
  return snapshot(h);
}

interface BadBody {
  label: string;
  body: (h: Harness) => string;
  code: string;
  mentions: string;
}

const BAD_BODIES: BadBody[] = [
  { label: 'succeeded false without a code', body: () => '{"succeeded":false}', code: 'ERR_UPSTREAM_REJECTED', mentions: 'succeeded=false, code none (no code)' },
  {
    label: 'succeeded false with an unknown code',
    body: () => '{"succeeded":false,"code":99999,"error":"未知"}',
    code: 'ERR_UPSTREAM_REJECTED',
    mentions: 'code 99999 (unknown code)',
  },
  // A truthy string is not `true`: the empty list it carries must not replace good data.
  { label: 'succeeded "true" as a string', body: () => '{"succeeded":"true","resp_data":{"topics":[]}}', code: 'ERR_UPSTREAM_REJECTED', mentions: 'succeeded=false' },
  { label: 'no succeeded at all', body: () => '{"resp_data":{"topics":[]}}', code: 'ERR_UPSTREAM_REJECTED', mentions: 'succeeded=false' },
  { label: 'succeeded without resp_data', body: () => '{"succeeded":true}', code: 'ERR_UPSTREAM_SHAPE', mentions: 'unexpected body at resp_data' },
  { label: 'resp_data null', body: () => '{"succeeded":true,"resp_data":null}', code: 'ERR_UPSTREAM_SHAPE', mentions: 'unexpected body at resp_data' },
  { label: 'a JSON null', body: () => 'null', code: 'ERR_UPSTREAM_BAD_BODY', mentions: 'body is not a JSON object' },
  { label: 'a JSON array', body: () => '[{"succeeded":true}]', code: 'ERR_UPSTREAM_BAD_BODY', mentions: 'body is not a JSON object' },
  { label: 'an empty body', body: () => '', code: 'ERR_UPSTREAM_BAD_BODY', mentions: 'body is not valid JSON (0 chars)' },
  // An error page echoing the request's authorization header: the body is never quoted.
  {
    label: 'an HTML page that echoes the token',
    body: (h) => `<html><body>502 Bad Gateway; authorization: ${h.token}</body></html>`,
    code: 'ERR_UPSTREAM_BAD_BODY',
    mentions: 'body is not valid JSON',
  },
];

describe('a 200 that is not a good answer', () => {
  it.each(BAD_BODIES)('$label fails every unit once with $code and keeps every value', async ({ body, code, mentions }) => {
    const h = await create({ env: { UPSTREAM_CONCURRENCY: '16' } });
    const before = await warm(h, 'topics');
    h.sim.fault({ route: 'topics', kind: 'status', status: 200, body: body(h) });

    const result = await h.run('topics');

    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: ongoing(h).length, keysWritten: 0 });
    expect(h.sim.count('topics')).toBe(ongoing(h).length);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'topics', code, mentions);
    await expectNoSecret(h);
  });

  it('an error status whose body echoes the token leaves the token out of the error, the status store and the logs', async () => {
    const h = await create({ env: { UPSTREAM_RETRIES: '0' } });
    const before = await warm(h, 'topics');
    h.sim.fault({ route: 'topics', kind: 'status', status: 500, body: `{"succeeded":false,"code":500,"error":"bad token ${h.token}"}` });

    const result = await h.run('topics');

    expect(JSON.stringify(result.error)).not.toContain(h.token);
    expect(String(result.error)).not.toContain(h.token);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_HTTP', 'HTTP 500');
    await expectNoSecret(h);
  });
});

describe('a body over the size cap', () => {
  it.each([
    { label: 'one byte over a 4 KiB cap', cap: 4096, bytes: 4097 },
    { label: '8 MB against a 64 KiB cap', cap: 65_536, bytes: 8 * MB },
  ])('$label is cut off with ERR_UPSTREAM_TOO_LARGE, not retried, and the value kept', async ({ cap, bytes }) => {
    const h = await create({ env: { UPSTREAM_MAX_BODY_BYTES: String(cap) } });
    // daily-stats: a padded envelope would even pass its schema, so only the cap stands in the way.
    const before = await warm(h, 'daily-stats');
    h.sim.fault({ route: 'daily', kind: 'huge', bytes });

    const result = await h.run('daily-stats');

    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: ongoing(h).length, keysWritten: 0 });
    expect(h.sim.count('daily')).toBe(ongoing(h).length);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'daily-stats', 'ERR_UPSTREAM_TOO_LARGE', `body over ${cap} bytes, cut off`);
    await expectNoSecret(h);
  });

  it('a streamed gzip bomb inflating to 200 MB is cut off at the default 10 MB cap, without the memory to hold it', async () => {
    // One project: one bomb.
    const h = await create({ projects: 1 });
    const before = await warm(h, 'daily-stats');
    h.sim.fault({ route: 'daily', kind: 'gzip-bomb', bytes: 200 * MB });

    const { result, growth } = await withPeakRss(() => h.run('daily-stats'));

    expect(result).toMatchObject({ outcome: 'failed', itemsFailed: 1, keysWritten: 0 });
    expect(growth, `RSS grew by ${Math.round(growth / MB)} MB`).toBeLessThan(100 * MB);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'daily-stats', 'ERR_UPSTREAM_TOO_LARGE', `body over ${10 * MB} bytes, cut off`);
  });

  // The other way a server sends gzip: pre-compressed, with the compressed size as
  // content-length. The cap must count inflated bytes here too, not trust that header.
  it('a gzip bomb sent with its compressed content-length is cut off at the cap too, without the memory to hold it', async () => {
    const h = await create({ projects: 1 });
    const before = await warm(h, 'daily-stats');
    const bomb = h.track(await startBombServer(await gzipBomb(200 * MB)));
    const config = h.reconfigure(undefined, { UPSTREAM_BASE_URL: bomb.url });
    const runtime = createRuntime(h.jobs, config, h.logger);
    h.track({ close: () => runtime.close() });

    const { result, growth } = await withPeakRss(() => runJob(runtime.plans.get('daily-stats')!, runtime.run, 'once'));

    expect(bomb.requests).toBe(1);
    expect(result).toMatchObject({ outcome: 'failed', itemsFailed: 1, keysWritten: 0 });
    expect(growth, `RSS grew by ${Math.round(growth / MB)} MB`).toBeLessThan(100 * MB);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'daily-stats', 'ERR_UPSTREAM_TOO_LARGE', 'cut off');
  });
});

describe('a body that never ends', () => {
  it('a body trickling a byte at a time is cut off by the request timeout and the value kept', async () => {
    const h = await create({ env: { UPSTREAM_TIMEOUT: '400ms', UPSTREAM_RETRIES: '0', UPSTREAM_CONCURRENCY: '16' } });
    const before = await warm(h, 'topics');
    h.sim.fault({ route: 'topics', kind: 'trickle', bytesPerSecond: 50 });
    const started = Date.now();

    const result = await h.run('topics');

    expect(Date.now() - started).toBeLessThan(400 + 600);
    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: ongoing(h).length });
    // The headers came: the time ran out while the body was arriving.
    expect(h.sim.requests.every((r) => r.status === 200)).toBe(true);
    await expectKept(h, before);
    await expectFailureRecorded(h, 'topics', 'ERR_UPSTREAM_TIMEOUT', 'timed out');
    await expectNoSecret(h);
  });

  it('a complete JSON body whose connection then never ends is not accepted: the timeout cuts it', async () => {
    const h = await create({ env: { UPSTREAM_TIMEOUT: '600ms', UPSTREAM_RETRIES: '0' } });
    const before = await warm(h, 'project-stats');
    // The statistics envelope is under 200 bytes: at 2,000 bytes/s it is all there within 100 ms.
    h.sim.fault({ route: 'statistics', kind: 'trickle', bytesPerSecond: 2_000 });

    const result = await h.run('project-stats');

    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, keysWritten: 0 });
    await expectKept(h, before);
    await expectFailureRecorded(h, 'project-stats', 'ERR_UPSTREAM_TIMEOUT', 'timed out');
  });
});

describe('a redirect', () => {
  it.each([
    { label: 'to another origin', elsewhere: true },
    { label: 'to the same origin', elsewhere: false },
  ])('on the projects list, $label, is not followed: no second request, no token sent on', async ({ elsewhere }) => {
    const h = await create();
    const seen: IncomingHttpHeaders[] = [];
    const other = createServer((req, res) => {
      seen.push(req.headers);
      res.end('{"succeeded":true,"resp_data":{"checkins":[]}}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    h.track({ close: () => new Promise<void>((resolve) => other.close(() => resolve())) });
    const address = other.address();
    const origin = elsewhere ? `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` : h.sim.url;
    const before = await warm(h, 'projects-list');
    h.sim.fault({ route: 'projects', kind: 'redirect', location: `${origin}/v2/groups/${h.groupId}/checkins?scope=ongoing&count=100` });

    const result = await h.run('projects-list');

    expect(seen).toEqual([]);
    expect(h.sim.count()).toBe(3);
    expect(h.sim.requests.every((r) => r.status === 302)).toBe(true);
    expect(result).toMatchObject({ outcome: 'failed', itemsOk: 0, itemsFailed: 3 });
    await expectKept(h, before);
    await expectFailureRecorded(h, 'projects-list', 'ERR_UPSTREAM_HTTP', 'HTTP 302 redirect not followed');
    await expectNoSecret(h);
  });
});
