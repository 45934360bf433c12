/**
 * The status page (`GET /`) in a real headless Chromium (Debian's package,
 * driven by playwright-core; see test/support/browser.ts).
 *
 * Two worlds:
 * - a tiny fixture server on 127.0.0.1 serves `renderStatusPage()` with its
 *   CSP under a path prefix, and a `/status` document the test controls (or a
 *   500): rendering, escaping, refresh, the error banner, narrow screens,
 *   contrast and the screenshot, with the page's clock faked by Playwright so
 *   that "every 10 s" takes no 10 s;
 * - the real daemon (`cache-warmer run` with `HTTP_PORT=0`, the upstream
 *   simulator and the run's redis-server): the page shows what the daemon
 *   really did, refreshes itself, and says so when the daemon goes away.
 *
 * The screenshot: `UPDATE_SCREENSHOT=1` rewrites docs/status-page.png (the
 * fixture page at 1280×600, a day of history with one failing job); otherwise
 * it goes to a temporary directory, so an ordinary run never changes the tree.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderStatusPage, STATUS_PAGE_CSP, STATUS_PAGE_HEADERS, STATUS_PAGE_SCRIPT, STATUS_PAGE_STYLE, type StatusPageDocument } from '../../src/http/page.js';
import { loadJobs } from '../../src/definition/load.js';
import { browserPerFile, cspViolations, openPage, pngSize, type PageWatch, type WatchedPage } from '../support/browser.js';
import { eventually, spawnCli, type DaemonProcess } from '../support/daemon.js';
import { dropPrefix, newPrefix, redisUrl, testRedis } from '../support/redis.js';
import { startSimulator, type Simulator } from '../support/simulator/server.js';

const SCREENSHOT = fileURLToPath(new URL('../../docs/status-page.png', import.meta.url));
/** The fixture's "now": fixed, so that the screenshot is the same on every run. */
const T0 = Date.parse('2025-06-03T09:41:20.000Z');
const PREFIX = '/ops/cache-warmer/';
const HOUR = 3_600_000;

type Job = StatusPageDocument['jobs'][number];

/** 24 hourly points ending with the hour that holds `now`, oldest first. */
function history(now: number, point: (hoursAgo: number) => { ok: number; fail: number }): NonNullable<Job['history']> {
  const thisHour = Math.floor(now / HOUR) * HOUR;
  return Array.from({ length: 24 }, (_, i) => ({ start: new Date(thisHour - (23 - i) * HOUR).toISOString(), ...point(23 - i) }));
}

/** A day in the life of the default jobs: one of them failing for the last three hours, the cadences over the limit. */
function fixtureDocument(now = T0): StatusPageDocument {
  const at = (ms: number) => new Date(now + ms).toISOString();
  return {
    feasibility: {
      projects: 2000,
      neededPerSecond: 12.34,
      limitPerSecond: 10,
      fits: false,
      warnings: ['topics needs 6.67 req/s for 2000 projects every 5m; limit is 10 req/s for all jobs (12.34 needed); every 7m would fit'],
    },
    jobs: [
      {
        name: 'daily-stats', state: 'ok', schedule: 'every 15m + cron 5 0 0 * * * (Asia/Shanghai)',
        lastRunAt: at(-65_000), lastSuccessAt: at(-65_000), lastFailureAt: null, lastError: null, lastDurationMs: 4_210,
        lastKeysWritten: 2000, lastBytesWritten: 1_180_000, nextRunAt: at(835_000),
        successRate24h: 1, successRate1h: 1, runs24h: 97, history: history(now, () => ({ ok: 4, fail: 0 })), dataAgeSeconds: 66,
      },
      {
        name: 'leaderboards', state: 'ok', schedule: 'every 30m',
        lastRunAt: at(-400_000), lastSuccessAt: at(-400_000), lastFailureAt: at(-5 * HOUR - 400_000),
        lastError: 'ERR_REFRESH_PARTIAL: 2 of 6000 items failed; first: ranking: HTTP 502', lastDurationMs: 21_800,
        lastKeysWritten: 6000, lastBytesWritten: 9_400_000, nextRunAt: at(1_400_000),
        successRate24h: 47 / 48, successRate1h: 1, runs24h: 48, history: history(now, (h) => (h === 5 ? { ok: 1, fail: 1 } : { ok: 2, fail: 0 })), dataAgeSeconds: 401,
      },
      {
        name: 'project-stats', state: 'failing', schedule: 'every 30m',
        lastRunAt: at(-32_000), lastSuccessAt: at(-3 * HOUR - 32_000), lastFailureAt: at(-32_000),
        lastError: 'ERR_REFRESH_PARTIAL: 2000 of 2000 items failed; first: statistics: HTTP 503', lastDurationMs: 8_120,
        lastKeysWritten: 0, lastBytesWritten: 0, nextRunAt: at(1_770_000),
        successRate24h: 42 / 48, successRate1h: 0, runs24h: 48, history: history(now, (h) => (h <= 2 ? { ok: 0, fail: 2 } : { ok: 2, fail: 0 })), dataAgeSeconds: 3 * 3600 + 32,
      },
      {
        name: 'projects-list', state: 'ok', schedule: 'every 1h',
        lastRunAt: at(-1_500_000), lastSuccessAt: at(-1_500_000), lastFailureAt: null, lastError: null, lastDurationMs: 1_310,
        lastKeysWritten: 2001, lastBytesWritten: 2_050_000, nextRunAt: at(2_100_000),
        // Started 18 hours ago: the six hours before have no runs.
        successRate24h: 1, successRate1h: 1, runs24h: 18, history: history(now, (h) => (h >= 18 ? { ok: 0, fail: 0 } : { ok: 1, fail: 0 })), dataAgeSeconds: 1501,
      },
      {
        name: 'topics', state: 'ok', schedule: 'every 5m',
        lastRunAt: at(-14_000), lastSuccessAt: at(-14_000), lastFailureAt: at(-14 * HOUR), lastError: 'ERR_UPSTREAM_TIMEOUT: topics: timed out (request)',
        lastDurationMs: 47_300, lastKeysWritten: 2000, lastBytesWritten: 31_500_000, nextRunAt: at(286_000),
        successRate24h: 287 / 288, successRate1h: 1, runs24h: 288, history: history(now, (h) => (h === 14 ? { ok: 11, fail: 1 } : { ok: 12, fail: 0 })), dataAgeSeconds: 61,
      },
    ],
  };
}

interface FixtureServer {
  /** The page's URL: under a path prefix, as behind a reverse proxy. */
  readonly pageUrl: string;
  /** What `GET {prefix}status` answers; replace or mutate it between refreshes. */
  doc: StatusPageDocument;
  /** `500`: `/status` fails with an HTML error page, as a proxy in front of a dead daemon would. */
  statusCode: 200 | 500;
  /** A `Date` header for `/status` answers (the server's clock); none when undefined. */
  serverDate: number | undefined;
  /** The page's HTML; tests of the CSP change it. */
  html: string;
  statusRequests: number;
  close(): Promise<void>;
}

async function startFixtureServer(): Promise<FixtureServer> {
  let server: Server | undefined;
  const fixture: FixtureServer = {
    pageUrl: '',
    doc: fixtureDocument(),
    statusCode: 200,
    serverDate: undefined,
    html: renderStatusPage(),
    statusRequests: 0,
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
  server = createServer((req, res) => {
    // The page's clock is faked; a Date header from the real clock would look like skew.
    res.sendDate = false;
    const path = new URL(req.url ?? '/', 'http://fixture.invalid').pathname;
    if (req.method === 'GET' && path === PREFIX) {
      res.writeHead(200, STATUS_PAGE_HEADERS);
      res.end(fixture.html);
    } else if (req.method === 'GET' && path === `${PREFIX}status`) {
      fixture.statusRequests += 1;
      const date = fixture.serverDate === undefined ? {} : { date: new Date(fixture.serverDate).toUTCString() };
      if (fixture.statusCode === 500) {
        res.writeHead(500, { 'content-type': 'text/html', ...date });
        res.end('<h1>500 Internal Server Error</h1>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...date });
        res.end(JSON.stringify(fixture.doc));
      }
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return Object.assign(fixture, { pageUrl: `http://127.0.0.1:${port}${PREFIX}` });
}

const row = (page: Page, job: string) => page.locator(`tr[data-job="${job}"]`);
const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();

/** Nothing went wrong in the page: no console error (but the `allowed` ones), exception, CSP violation or off-machine request. */
async function expectClean(page: Page, watch: PageWatch, allowed: RegExp[] = []): Promise<void> {
  expect(watch.pageErrors).toEqual([]);
  expect(watch.consoleErrors.filter((m) => !allowed.some((re) => re.test(m)))).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
  expect(watch.foreignRequests).toEqual([]);
}

describe('the status page in Chromium, against a fixture /status', () => {
  const browser = browserPerFile();
  let fixture: FixtureServer;
  let opened: WatchedPage[] = [];

  beforeAll(async () => {
    fixture = await startFixtureServer();
  });
  afterAll(async () => {
    await fixture?.close();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((o) => o.context.close()));
    fixture.doc = fixtureDocument();
    fixture.statusCode = 200;
    fixture.serverDate = undefined;
    fixture.html = renderStatusPage();
  });

  /**
   * Opens the page with its clock faked and paused at T0 (time moves only when
   * a test moves it: every relative time is exact), and waits for the first rows.
   */
  async function open(options: Parameters<typeof openPage>[1] = {}): Promise<WatchedPage> {
    const watched = await openPage(browser(), { timezoneId: 'UTC', locale: 'en-GB', ...options });
    opened.push(watched);
    await watched.page.clock.install({ time: T0 - 1_000 });
    await watched.page.clock.pauseAt(T0);
    const response = await watched.page.goto(fixture.pageUrl);
    expect(response?.status()).toBe(200);
    await watched.page.locator('tr[data-job]').first().waitFor();
    return watched;
  }

  it('shows one row per job with its state, cadence, last and next run, success rates, a 24 h sparkline, data age and last error', async () => {
    const { page, watch } = await open();
    const names = await page.locator('tr[data-job]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
    expect(names).toEqual(['daily-stats', 'leaderboards', 'project-stats', 'projects-list', 'topics']);

    expect(await text(page, '[data-job="topics"] .job-state .badge')).toBe('ok');
    expect(await page.locator('[data-job="topics"] .job-state .badge').getAttribute('class')).toContain('state-ok');
    expect(await text(page, '[data-job="project-stats"] .job-state .badge')).toBe('failing');
    expect(await page.locator('[data-job="project-stats"] .job-state .badge').getAttribute('class')).toContain('state-failing');
    expect(await text(page, '[data-job="daily-stats"] .job-schedule')).toBe('every 15m + cron 5 0 0 * * * (Asia/Shanghai)');

    // Relative times, with the exact instant in the tooltip.
    const lastRun = page.locator('[data-job="topics"] .job-last-run .rel');
    expect(await lastRun.textContent()).toBe('14s ago');
    expect(await lastRun.getAttribute('title')).toContain(new Date(T0 - 14_000).toISOString());
    expect(await text(page, '[data-job="topics"] .job-last-run .duration')).toBe('took 47 s');
    expect(await text(page, '[data-job="topics"] .job-next-run .rel')).toBe('in 4m');
    expect(await text(page, '[data-job="projects-list"] .job-last-run .rel')).toBe('25m ago');

    expect(await text(page, '[data-job="topics"] .rate-24h')).toBe('99.7%');
    expect(await text(page, '[data-job="topics"] .rate-1h')).toBe('1 h 100%');
    expect(await text(page, '[data-job="topics"] .runs')).toBe('288 runs');
    expect(await text(page, '[data-job="project-stats"] .rate-24h')).toBe('87.5%');
    expect(await text(page, '[data-job="project-stats"] .rate-1h')).toBe('1 h 0%');

    // The sparkline: one bar per hour; green where runs succeeded, red where they failed, grey where none ran.
    const spark = (job: string, cls: string) => page.locator(`[data-job="${job}"] svg.spark .${cls}`).count();
    expect(await page.locator('[data-job="topics"] svg.spark .spark-bar').count()).toBe(24);
    expect(await spark('topics', 'spark-ok')).toBe(24);
    expect(await spark('topics', 'spark-fail')).toBe(1);
    expect(await spark('project-stats', 'spark-fail')).toBe(3);
    expect(await spark('project-stats', 'spark-ok')).toBe(21);
    expect(await spark('projects-list', 'spark-empty')).toBe(6);
    expect(await page.locator('[data-job="topics"] svg.spark').getAttribute('aria-label')).toBe('last 24 h: 287 ok, 1 failed');

    expect(await text(page, '[data-job="topics"] .data-age')).toBe('61s');
    expect(await text(page, '[data-job="project-stats"] .data-age')).toBe('3h');
    expect(await page.locator('[data-job="project-stats"] .data-age').getAttribute('class')).toContain('aging');

    expect(await text(page, '[data-job="project-stats"] .error-text')).toBe('ERR_REFRESH_PARTIAL: 2000 of 2000 items failed; first: statistics: HTTP 503');
    expect(await text(page, '[data-job="project-stats"] .error-at')).toBe('failed 32s ago');
    // An error from before the last success is shown as resolved.
    expect(await page.locator('[data-job="topics"] .error-text').getAttribute('class')).toContain('resolved');
    expect(await text(page, '[data-job="daily-stats"] .job-error')).toBe('-');

    expect(await text(page, '#summary')).toBe('1 failing4 ok');
    expect(await page.title()).toBe('1 failing · cache-warmer status');
    expect(await text(page, '#feasibility .verdict')).toBe('Cadences exceed the rate limit');
    expect(await text(page, '#feasibility .load')).toBe('upstream load 12.34 req/s needed for 2000 projects; limit 10 req/s');
    expect(await page.locator('#warnings li').allTextContents()).toEqual(fixtureDocument().feasibility!.warnings);
    expect(await page.locator('#banner').isVisible()).toBe(false);

    // The relative fetch went under the prefix; nothing else was requested.
    expect(watch.requests).toEqual([fixture.pageUrl, `${fixture.pageUrl}status`]);
    await expectClean(page, watch);
  });

  it('shows job names and upstream error text as text, never as markup', async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"></td></tr><script>window.__pwned=2</script>';
    fixture.doc = fixtureDocument();
    const topics = fixture.doc.jobs.find((j) => j.name === 'topics')!;
    topics.state = 'failing';
    topics.lastError = `ERR_UPSTREAM_REJECTED: topics: ${hostile}`;
    fixture.doc.jobs.push({ name: '<b>bold</b>', state: '<i>odd</i>', schedule: '<u>x</u>', lastRunAt: null, nextRunAt: null, successRate24h: null, runs24h: 0 });
    fixture.doc.feasibility!.warnings = [`warning ${hostile}`];
    const { page, watch } = await open();

    expect(await text(page, '[data-job="topics"] .error-text')).toBe(`ERR_UPSTREAM_REJECTED: topics: ${hostile}`);
    const odd = page.locator('tr[data-job="<b>bold</b>"]');
    expect(await odd.locator('.job-name .name').textContent()).toBe('<b>bold</b>');
    expect(await odd.locator('.job-state .badge').textContent()).toBe('<i>odd</i>');
    expect(await odd.locator('.job-state .badge').getAttribute('class')).toContain('state-unknown');
    expect(await odd.locator('.job-schedule').textContent()).toBe('<u>x</u>');
    expect(await page.locator('#warnings li').textContent()).toBe(`warning ${hostile}`);
    // No element was made from the strings: one script (the page's own), no img, b, i or u.
    expect(await page.locator('img, b, i, u').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('tr[data-job]').count()).toBe(6);
    await expectClean(page, watch);
  });

  it('refreshes by itself every 10 s without reloading, and says how long ago it last updated', async () => {
    const { page, watch } = await open();
    await page.clock.fastForward(3_000);
    expect(await text(page, '#updated')).toBe('updated 3s ago');
    await page.evaluate('window.__samePage = true');
    const requestsBefore = fixture.statusRequests;

    const next = fixtureDocument(T0 + 10_000);
    next.jobs.find((j) => j.name === 'topics')!.runs24h = 289;
    fixture.doc = next;
    await page.clock.fastForward(10_000);
    await page.locator('[data-job="topics"] .runs', { hasText: '289 runs' }).waitFor();

    expect(fixture.statusRequests).toBe(requestsBefore + 1);
    expect(await page.evaluate('window.__samePage')).toBe(true);
    expect(await page.locator('[data-job="topics"] .job-last-run .rel').getAttribute('data-at')).toBe(new Date(T0 - 4_000).toISOString());
    expect(await text(page, '#updated')).toBe('updated 0s ago');
    // Between fetches, relative times and data ages move on by themselves.
    await page.clock.runFor(5_000);
    expect(await text(page, '#updated')).toBe('updated 5s ago');
    expect(await text(page, '[data-job="topics"] .job-last-run .rel')).toBe('22s ago');
    expect(await text(page, '[data-job="daily-stats"] .data-age')).toBe('71s');
    expect(fixture.statusRequests).toBe(requestsBefore + 1);
    await expectClean(page, watch);
  });

  it('shows an error banner while /status fails, keeps the last data, and clears it once /status answers again', async () => {
    const { page, watch } = await open();
    fixture.statusCode = 500;
    await page.clock.fastForward(10_000);
    const banner = page.locator('#banner');
    await banner.waitFor({ state: 'visible' });
    expect(await text(page, '#banner-text')).toBe('Cannot load the status (HTTP 500 Internal Server Error). Showing the data from 10s ago; retrying every 10 s.');
    expect(await banner.getAttribute('role')).toBe('alert');
    // The last data stays, dimmed, and the header says it is old.
    expect(await page.locator('tr[data-job]').count()).toBe(5);
    expect(await page.locator('#table').getAttribute('class')).toContain('stale');
    expect(await page.locator('#updated').getAttribute('class')).toContain('stale');
    expect(await text(page, '[data-job="project-stats"] .job-state .badge')).toBe('failing');

    fixture.statusCode = 200;
    await page.locator('#retry').click();
    await banner.waitFor({ state: 'hidden' });
    expect(await page.locator('#table').getAttribute('class')).not.toContain('stale');
    // Chromium reports the failed fetch itself on the console; nothing else may appear there.
    await expectClean(page, watch, [/Failed to load resource: the server responded with a status of 500/]);
  });

  it('shows "-" where an older daemon sends no successRate1h, history or dataAgeSeconds', async () => {
    fixture.doc = fixtureDocument();
    for (const job of fixture.doc.jobs) {
      delete job.successRate1h;
      delete job.history;
      delete job.dataAgeSeconds;
    }
    const { page, watch } = await open();
    expect(await text(page, '[data-job="topics"] .rate-1h')).toBe('1 h -');
    expect(await text(page, '[data-job="topics"] .job-history')).toBe('-');
    expect(await page.locator('svg.spark').count()).toBe(0);
    expect(await text(page, '[data-job="topics"] .data-age')).toBe('-');
    expect(await text(page, '[data-job="topics"] .rate-24h')).toBe('99.7%');
    await expectClean(page, watch);
  });

  it("corrects relative times when the browser's clock is off from the server's Date header", async () => {
    // The server's clock is two hours ahead of the browser's.
    fixture.serverDate = T0 + 2 * HOUR;
    fixture.doc = fixtureDocument(T0 + 2 * HOUR);
    const { page, watch } = await open();
    // 14 s, plus half a second for the Date header's whole seconds.
    expect(await text(page, '[data-job="topics"] .job-last-run .rel')).toBe('15s ago');
    expect(await text(page, '[data-job="topics"] .job-next-run .rel')).toBe('in 4m');
    await expectClean(page, watch);
  });

  it('fits a 390 px wide phone screen as one card per job, without horizontal scrolling', async () => {
    const { page, watch } = await open({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await page.locator('table.jobs thead').isVisible()).toBe(false);
    const card = row(page, 'project-stats');
    await card.scrollIntoViewIfNeeded();
    const box = await card.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    const sparkBox = await card.locator('svg.spark').boundingBox();
    expect(sparkBox!.x + sparkBox!.width).toBeLessThanOrEqual(390);
    // Cells carry their column's name as a label.
    expect(await card.locator('td.job-data-age').getAttribute('data-label')).toBe('Data age');
    expect(await card.locator('.error-text').isVisible()).toBe(true);
    await expectClean(page, watch);
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`keeps text readable in the ${colorScheme} colour scheme (WCAG AA contrast of 4.5:1 or more)`, async () => {
      fixture.doc = fixtureDocument();
      fixture.doc.jobs.push({ name: 'auth', state: 'auth failed', lastError: 'ERR_UPSTREAM_AUTH: the upstream refused the token (HTTP 401)' });
      fixture.doc.jobs.push({ name: 'new', state: 'never run' });
      const { page, watch } = await open({ colorScheme });
      const ratios = await page.evaluate<Array<{ what: string; ratio: number }>>(CONTRAST_PROBE);
      expect(ratios.length).toBeGreaterThan(10);
      const poor = ratios.filter((r) => r.ratio < 4.5);
      expect(poor).toEqual([]);
      const background = await page.evaluate<string>('getComputedStyle(document.documentElement).backgroundColor');
      expect(background).toBe(colorScheme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(244, 246, 248)');
      await expectClean(page, watch);
    });
  }

  it('sends a CSP that allows exactly its own inline script and style, and the page needs nothing more', async () => {
    const html = renderStatusPage();
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(html).toContain(`<script>${STATUS_PAGE_SCRIPT}</script>`);
    expect(html).toContain(`<style>${STATUS_PAGE_STYLE}</style>`);
    expect(STATUS_PAGE_CSP).toBe(
      `default-src 'none'; script-src ${hash(STATUS_PAGE_SCRIPT)}; style-src ${hash(STATUS_PAGE_STYLE)}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    expect(STATUS_PAGE_HEADERS['content-security-policy']).toBe(STATUS_PAGE_CSP);
    // The policy is enforced: a script that differs by one character does not run.
    fixture.html = html.replace('<script>', '<script>\n');
    const watched = await openPage(browser(), {});
    opened.push(watched);
    await watched.page.goto(fixture.pageUrl);
    await watched.page.waitForFunction('(window.__cspViolations ?? []).length > 0');
    expect(await cspViolations(watched.page)).toEqual([expect.stringMatching(/^script-src(-elem)? inline$/)]);
    expect(await watched.page.locator('tr[data-job]').count()).toBe(0);
  });

  it('makes a 1280×600 screenshot (docs/status-page.png when UPDATE_SCREENSHOT=1)', async () => {
    const { page, watch } = await open({ viewport: { width: 1280, height: 600 } });
    // A fetch at a known instant, then two seconds: every time on the picture is the same on every run.
    await page.clock.pauseAt(T0 + 1_000);
    fixture.doc = fixtureDocument(T0 + 11_000);
    await page.clock.fastForward(10_000);
    await page.locator(`[data-job="topics"] .rel[data-at="${new Date(T0 + 11_000 - 14_000).toISOString()}"]`).waitFor();
    await page.clock.runFor(2_000);
    await page.locator('#updated', { hasText: /^updated 2s ago$/ }).waitFor();
    const update = process.env.UPDATE_SCREENSHOT === '1';
    const dir = update ? undefined : mkdtempSync(join(tmpdir(), 'cw-status-page-'));
    const path = dir ? join(dir, 'status-page.png') : SCREENSHOT;
    try {
      mkdirSync(dirname(path), { recursive: true });
      // The host name (a random port) is masked so the picture only changes when the page does.
      await page.evaluate("document.getElementById('host').textContent = '127.0.0.1:9464'");
      await page.screenshot({ path, type: 'png' });
      const png = readFileSync(path);
      expect(pngSize(png)).toEqual({ width: 1280, height: 600 });
      expect(png.length).toBeGreaterThan(20_000);
      await expectClean(page, watch);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * In the page: the contrast ratio of each visible text against the colour
 * actually behind it (the first ancestor with an opaque background).
 */
const CONTRAST_PROBE = `(() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const selectors = ['h1', '.host', '.updated', '.summary .badge', '.feasibility .verdict', '.feasibility .load', '.warnings li',
    'th', '.job-name .name', '.sub', '.badge', '.schedule', '.rel', '.rate-24h', '.data-age', '.error-text', '.no-error', 'footer'];
  const out = [];
  for (const s of selectors) {
    for (const el of document.querySelectorAll(s)) {
      if (!el.getClientRects().length) continue;
      const a = lum(parse(getComputedStyle(el).color)), b = lum(behind(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      out.push({ what: s + ' "' + (el.textContent || '').slice(0, 30) + '"', ratio: Math.round(ratio * 100) / 100 });
    }
  }
  return out;
})()`;

describe('the status page served by the daemon', () => {
  const browser = browserPerFile();
  const TOKEN = 'E2EPAGE9E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
  let sim: Simulator | undefined;
  let redis: Redis | undefined;
  let prefix = '';
  let dir = '';
  let daemon: DaemonProcess | undefined;
  let opened: WatchedPage | undefined;

  afterEach(async () => {
    await opened?.context.close();
    await daemon?.stop('SIGKILL');
    await sim?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    opened = daemon = sim = redis = undefined;
  });

  it('shows the jobs the daemon runs, refreshes itself as they run again, and shows a banner once the daemon is gone', async () => {
    sim = await startSimulator({ projects: 6, token: TOKEN });
    redis = testRedis();
    prefix = newPrefix();
    dir = mkdtempSync(join(tmpdir(), 'cw-status-page-'));
    const jobNames = (await loadJobs()).map((j) => j.name).sort();
    // project-stats fails on every request (one run at start: its error text, naming the first
    // failed project, stays the same while the test reads it); two jobs are disabled (never run).
    sim.fault({ kind: 'status', status: 503, route: 'statistics' });
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({ jobs: { topics: { every: '2s', ttl: '30s' }, 'project-stats': { every: '45m', ttl: '30s' }, leaderboards: { enabled: false }, 'daily-stats': { enabled: false } } }),
    );
    daemon = spawnCli(['run', '--config', config], {
      REDIS_URL: redisUrl(),
      CACHE_PREFIX: prefix,
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_TOKEN: TOKEN,
      UPSTREAM_GROUP_ID: sim.options.groupId,
      UPSTREAM_RETRIES: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    });
    const listening = await daemon.waitForLog((l) => l.msg === 'http listening', 20_000);
    const port = Number(listening.port);
    expect(port).toBeGreaterThan(0);
    const hget = async (job: string, field: string) => Number((await redis!.hget(`{${prefix}}:status:${job}`, field)) ?? 0);
    await eventually(async () => ((await hget('topics', 'successes')) >= 2 && (await hget('project-stats', 'failures')) >= 1 ? true : undefined), 25_000, 'two topics runs and a failed project-stats run');

    opened = await openPage(browser());
    const { page, watch } = opened;
    const base = `http://127.0.0.1:${port}/`;
    const response = await page.goto(base);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toBe(STATUS_PAGE_CSP);
    await page.locator('tr[data-job]').first().waitFor();

    const names = await page.locator('tr[data-job]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
    expect([...names].sort()).toEqual(jobNames);
    const badge = (job: string) => text(page, `[data-job="${job}"] .job-state .badge`);
    expect(await badge('topics')).toBe('ok');
    expect(await badge('projects-list')).toBe('ok');
    expect(await badge('project-stats')).toBe('failing');
    expect(await badge('leaderboards')).toBe('never run');
    expect(await text(page, '[data-job="leaderboards"] .job-schedule')).toBe('disabled');
    expect(await text(page, '[data-job="topics"] .job-schedule')).toBe('every 2s');
    expect(await text(page, '[data-job="topics"] .rate-24h')).toBe('100%');
    expect(await text(page, '[data-job="topics"] .rate-1h')).toBe('1 h 100%');
    expect(await text(page, '[data-job="project-stats"] .rate-24h')).toBe('0%');
    expect(await page.locator('[data-job="topics"] svg.spark .spark-ok').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('[data-job="project-stats"] svg.spark .spark-fail').count()).toBeGreaterThanOrEqual(1);
    expect(await text(page, '[data-job="topics"] .data-age')).toMatch(/^\d+s$/);

    // The error is the document's text, shown as text.
    const doc = (await (await fetch(`${base}status`)).json()) as StatusPageDocument;
    const lastError = doc.jobs.find((j) => j.name === 'project-stats')!.lastError!;
    expect(lastError).toContain('HTTP 503');
    expect(await text(page, '[data-job="project-stats"] .error-text')).toBe(lastError);

    // topics runs every 2 s; the page fetches every 10 s, without a reload.
    await page.evaluate('window.__samePage = true');
    const firstRun = await page.locator('[data-job="topics"] .job-last-run .rel').getAttribute('data-at');
    await eventually(
      async () => {
        const at = await page.locator('[data-job="topics"] .job-last-run .rel').getAttribute('data-at');
        return at !== firstRun ? at : undefined;
      },
      25_000,
      'the page to show a newer topics run by itself',
      250,
    );
    expect(await page.evaluate('window.__samePage')).toBe(true);
    expect(await text(page, '#updated')).toMatch(/^updated \d+s ago$/);

    const shots = join(dir, 'status-page-daemon.png');
    await page.screenshot({ path: shots });
    expect(pngSize(readFileSync(shots))).toEqual({ width: 1280, height: 600 });
    await expectClean(page, watch);
    expect(watch.requests.every((u) => u === base || u === `${base}status`)).toBe(true);

    // The daemon goes away: the page keeps its data and says it cannot reach it.
    expect(await daemon.stop('SIGTERM')).toBe(0);
    await page.locator('#banner').waitFor({ state: 'visible', timeout: 25_000 });
    expect(await text(page, '#banner-text')).toMatch(/^Cannot load the status \(.+\)\. Showing the data from \d+s ago; retrying every 10 s\.$/);
    expect(await page.locator('tr[data-job]').count()).toBe(jobNames.length);
    await expectClean(page, watch, [/Failed to load resource: net::ERR_CONNECTION_REFUSED/]);
  }, 90_000);
});
