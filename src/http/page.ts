/**
 * The status page served at `GET /`: one self-contained HTML document (inline
 * style and script, no external asset: the machines are offline) that fetches
 * `./status` every 10 s and renders one row per job.
 *
 * The fetch is relative, so the page also works behind a reverse proxy that
 * mounts the daemon under a path prefix, provided the page's URL ends with a
 * slash (`/ops/cache-warmer/` fetches `/ops/cache-warmer/status`).
 *
 * The server should send {@link STATUS_PAGE_HEADERS} with it: a strict
 * Content-Security-Policy that allows exactly this page's inline script and
 * style by their sha256 hashes, computed here at module load, so the policy
 * can never drift from the page.
 */
import { createHash } from 'node:crypto';
import { STATUS_PAGE_SCRIPT } from './page-script.js';
import { STATUS_PAGE_STYLE } from './page-style.js';

export { STATUS_PAGE_SCRIPT } from './page-script.js';
export { STATUS_PAGE_STYLE } from './page-style.js';

/**
 * What the page reads from `GET /status` (the document of `status --json`).
 * Every field is optional to the page: a missing one renders as "-", so the
 * page works with daemons older or newer than itself.
 */
export interface StatusPageDocument {
  jobs: Array<{
    name: string;
    state?: string;
    schedule?: string;
    lastRunAt?: string | null;
    lastSuccessAt?: string | null;
    lastFailureAt?: string | null;
    lastError?: string | null;
    lastDurationMs?: number | null;
    lastKeysWritten?: number | null;
    lastBytesWritten?: number | null;
    nextRunAt?: string | null;
    successRate24h?: number | null;
    successRate1h?: number | null;
    runs24h?: number;
    /** Hourly points of the last 24 hours, oldest first. */
    history?: Array<{ start: string; ok: number; fail: number }>;
    dataAgeSeconds?: number | null;
  }>;
  feasibility?: { projects: number; neededPerSecond: number; limitPerSecond: number; fits: boolean; warnings: string[] };
}

/** `'sha256-…'`, the CSP source expression of an inline element's exact text (UTF-8). */
function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

// The HTML parser ends a raw-text element at its closing tag, whatever the JS or CSS around it means.
for (const [what, text, tag] of [
  ['STATUS_PAGE_SCRIPT', STATUS_PAGE_SCRIPT, '</script'],
  ['STATUS_PAGE_STYLE', STATUS_PAGE_STYLE, '</style'],
] as const) {
  if (text.toLowerCase().includes(tag)) throw new Error(`src/http/page: ${what} contains "${tag}", which would end the inline element early`);
}

/**
 * Content-Security-Policy for the page: nothing but its own inline script and
 * style (by hash), fetches to its own origin, and data: images (the favicon).
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${cspHash(STATUS_PAGE_SCRIPT)}`,
  `style-src ${cspHash(STATUS_PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers to send with {@link renderStatusPage}'s document. */
export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': STATUS_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The page is static, but a cached copy could outlive a daemon upgrade whose CSP hashes changed.
  'cache-control': 'no-cache',
});

const COLUMNS: ReadonlyArray<[string, string]> = [
  ['c-name', 'Job'],
  ['c-state', 'State'],
  ['c-schedule', 'Cadence'],
  ['c-last', 'Last run'],
  ['c-next', 'Next run'],
  ['c-rate', 'Success'],
  ['c-history', 'Last 24 h'],
  ['c-age', 'Data age'],
  ['c-error', 'Last error'],
];

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>cache-warmer status</title>
<link id="favicon" rel="icon" href="data:,">
<style>${STATUS_PAGE_STYLE}</style>
</head>
<body>
<header class="top">
<h1>cache-warmer</h1><span class="host" id="host"></span>
<div class="summary" id="summary"></div>
<div class="updated" id="updated">loading…</div>
</header>
<div class="banner" id="banner" role="alert" hidden><span id="banner-text"></span><button type="button" id="retry">Retry now</button></div>
<section class="feasibility" id="feasibility" hidden></section>
<ul class="warnings" id="warnings"></ul>
<div class="table-wrap">
<table class="jobs" id="table">
<colgroup>${COLUMNS.map(([c]) => `<col class="${c}">`).join('')}</colgroup>
<thead><tr>${COLUMNS.map(([, label]) => `<th scope="col">${label}</th>`).join('')}</tr></thead>
<tbody id="jobs"></tbody>
</table>
</div>
<noscript><p>This page needs JavaScript. The same data is at <a href="./status">./status</a> (JSON).</p></noscript>
<footer>Refreshes every 10 s without reloading · <a href="./status">status JSON</a> · times in your browser's time zone; hover a time for the exact instant</footer>
<script>${STATUS_PAGE_SCRIPT}</script>
</body>
</html>
`;

/** The status page: a constant document (the data comes from `./status`), safe to cache in memory. */
export function renderStatusPage(): string {
  return PAGE;
}
