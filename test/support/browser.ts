/**
 * Headless Chromium for end-to-end tests of the status page: Debian's
 * `chromium` package (scripts/ensure-browser.sh installs it) driven by
 * playwright-core, which downloads no browser of its own.
 *
 * Every page opened here records what a test must be able to assert on: console
 * errors, uncaught exceptions, CSP violations and every request. Requests to
 * anything but loopback are recorded *and* aborted: a test never sends
 * traffic off the machine, whatever the page does.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** Debian's chromium; `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const LAUNCH_TIMEOUT_MS = 30_000;
/** A single action or assertion wait inside the page. */
export const ACTION_TIMEOUT_MS = 10_000;
const NAVIGATION_TIMEOUT_MS = 15_000;

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`test/support/browser: ${CHROMIUM_PATH} is missing: run "bash scripts/ensure-browser.sh" (installs Debian's chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    timeout: LAUNCH_TIMEOUT_MS,
    // No profile sync, updates, field trials or QUIC probes: an offline machine, and nothing but loopback traffic.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * One browser for the test file: launched in beforeAll, closed in afterAll
 * (even when a test failed). Returns a getter, valid inside tests.
 */
export function browserPerFile(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  }, LAUNCH_TIMEOUT_MS + 5_000);
  afterAll(async () => {
    await browser?.close();
    browser = undefined;
  });
  return () => {
    if (!browser) throw new Error('test/support/browser: the browser is not running (used outside a test?)');
    return browser;
  };
}

export interface PageWatch {
  /** `console.error` messages and Chromium's own errors (failed loads, CSP reports) printed to the console. */
  consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  pageErrors: string[];
  /** `securitypolicyviolation` events: directive and blocked URI. */
  cspViolations: string[];
  /** Every request the page made, in order (URL). */
  requests: string[];
  /** Requests to a host other than loopback: aborted, and listed here. */
  foreignRequests: string[];
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** http(s) to loopback, or a data:/blob:/about: URL that never leaves the browser. */
export function isLocalUrl(url: string): boolean {
  const parsed = new URL(url);
  if (['data:', 'blob:', 'about:'].includes(parsed.protocol)) return true;
  return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && (LOOPBACK_HOSTS.has(parsed.hostname) || parsed.hostname.startsWith('127.'));
}

/** A fresh context and page with bounded timeouts and everything recorded; close `context` after the test. */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 600 }, ...options });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  const watch: PageWatch = { consoleErrors: [], pageErrors: [], cspViolations: [], requests: [], foreignRequests: [] };
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLocalUrl(url)) return route.continue();
    watch.foreignRequests.push(url);
    return route.abort('blockedbyclient');
  });
  // Injected by the browser outside the page's CSP. A string, not a function: the test files are
  // typechecked without DOM types, and vitest's transform may add helpers a serialised function lacks.
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => { (window.__cspViolations ??= []).push(e.violatedDirective + ' ' + e.blockedURI); });`,
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') watch.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => watch.pageErrors.push(error.message));
  page.on('request', (request) => watch.requests.push(request.url()));
  return { context, page, watch };
}

/** CSP violations the page saw so far (collected by the init script of openPage). */
export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__cspViolations ?? []');
}

/** True when `bytes` start with the PNG signature and hold an IHDR of a non-empty image. */
export function pngSize(bytes: Buffer): { width: number; height: number } | undefined {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 33 || !bytes.subarray(0, 8).equals(signature) || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
