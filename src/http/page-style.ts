/**
 * The status page's stylesheet, inlined into the page (the machines are
 * offline: no external asset, no web font) and allowed by its CSP hash.
 *
 * Colours are chosen for WCAG AA contrast (≥ 4.5:1 for text) in both colour
 * schemes; the end-to-end test measures them. Below 860 px the table becomes
 * one card per job, each cell labelled from its `data-label`.
 */
export const STATUS_PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f4f6f8; --surface: #ffffff; --text: #1b1f24; --muted: #57606a; --border: #d8dee4; --row-hover: #f6f8fa;
  --ok-bg: #dafbe1; --ok-fg: #116329; --fail-bg: #ffebe9; --fail-fg: #a40e26;
  --auth-bg: #fff1e5; --auth-fg: #8a3300; --never-bg: #eaeef2; --never-fg: #424a53;
  --spark-ok: #2da44e; --spark-fail: #cf222e; --spark-empty: #d0d7de;
  --banner-bg: #ffebe9; --banner-fg: #82071e; --banner-border: #ff8182;
  --warn-bg: #fff8c5; --warn-fg: #6a4b00; --warn-border: #d4a72c;
  --meter-bg: #eaeef2; --accent: #0550ae;
  --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --surface: #161b22; --text: #e6edf3; --muted: #9198a1; --border: #30363d; --row-hover: #1c232c;
    --ok-bg: #12361f; --ok-fg: #7ee29a; --fail-bg: #4a1418; --fail-fg: #ffa198;
    --auth-bg: #3d2306; --auth-fg: #f5b26b; --never-bg: #262c36; --never-fg: #c1c8d1;
    --spark-ok: #3fb950; --spark-fail: #f85149; --spark-empty: #30363d;
    --banner-bg: #4a1418; --banner-fg: #ffdcd7; --banner-border: #da3633;
    --warn-bg: #3b2e05; --warn-fg: #f2d675; --warn-border: #9e6a03;
    --meter-bg: #262c36; --accent: #79c0ff;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--text); }
body {
  margin: 0 auto; padding: 16px 20px 24px; max-width: 1480px;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", "Liberation Sans", sans-serif;
  font-variant-numeric: tabular-nums;
}
a { color: var(--accent); }
.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 16px; margin-bottom: 10px; }
.top h1 { font-size: 20px; margin: 0; letter-spacing: -0.01em; }
.host { color: var(--muted); font-size: 13px; }
.summary { display: flex; flex-wrap: wrap; gap: 6px; }
.updated { margin-left: auto; color: var(--muted); font-size: 13px; }
.updated.stale { color: var(--fail-fg); font-weight: 600; }
.badge {
  display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent;
}
.state-ok { background: var(--ok-bg); color: var(--ok-fg); }
.state-failing { background: var(--fail-bg); color: var(--fail-fg); }
.state-auth-failed { background: var(--auth-bg); color: var(--auth-fg); }
.state-never-run, .state-unknown { background: var(--never-bg); color: var(--never-fg); }
.banner {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; margin: 0 0 10px; padding: 8px 12px;
  background: var(--banner-bg); color: var(--banner-fg); border: 1px solid var(--banner-border); border-radius: 6px; font-weight: 600;
}
.banner[hidden] { display: none; }
.banner button {
  font: inherit; font-weight: 600; font-size: 13px; padding: 2px 10px; border-radius: 6px; cursor: pointer;
  color: var(--banner-fg); background: transparent; border: 1px solid var(--banner-border);
}
.feasibility {
  display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin: 0 0 10px; padding: 8px 12px;
  background: var(--surface); border: 1px solid var(--border); border-radius: 6px;
}
.feasibility[hidden] { display: none; }
.feasibility .meter { width: 160px; height: 8px; border-radius: 4px; background: var(--meter-bg); overflow: hidden; }
.feasibility .meter-fill { height: 100%; background: var(--spark-ok); }
.feasibility.over .meter-fill { background: var(--spark-fail); }
.feasibility .verdict { font-weight: 600; }
.feasibility.fits .verdict { color: var(--ok-fg); }
.feasibility.over .verdict { color: var(--fail-fg); }
.warnings { list-style: none; margin: 0 0 10px; padding: 0; }
.warnings li {
  margin: 0 0 4px; padding: 6px 12px; border-radius: 6px;
  background: var(--warn-bg); color: var(--warn-fg); border: 1px solid var(--warn-border);
}
.warnings li::before { content: "⚠ "; }
.table-wrap { background: var(--surface); border: 1px solid var(--border); border-radius: 6px; }
table.jobs { width: 100%; border-collapse: collapse; table-layout: fixed; }
table.jobs th {
  text-align: left; font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em;
  padding: 8px 10px; border-bottom: 1px solid var(--border); white-space: nowrap;
}
table.jobs td { padding: 8px 10px; border-top: 1px solid var(--border); vertical-align: top; overflow-wrap: anywhere; }
table.jobs tbody tr:first-child td { border-top: 0; }
table.jobs tbody tr:hover td { background: var(--row-hover); }
table.jobs.stale tbody { opacity: 0.6; }
/* A failing job is marked at the row's edge too, so it stands out in a long list. */
table.jobs tr[data-state="failing"] td:first-child { box-shadow: inset 3px 0 0 var(--spark-fail); }
table.jobs tr[data-state="auth failed"] td:first-child { box-shadow: inset 3px 0 0 var(--auth-fg); }
col.c-name { width: 12%; } col.c-state { width: 96px; } col.c-schedule { width: 13%; } col.c-last { width: 9%; }
col.c-next { width: 7%; } col.c-rate { width: 8%; } col.c-history { width: 166px; } col.c-age { width: 6.5%; } col.c-error { width: auto; }
.schedule { font-size: 13px; }
.job-name .name { font-weight: 600; }
.sub { display: block; color: var(--muted); font-size: 12px; }
.muted { color: var(--muted); }
.rate-24h { font-weight: 600; }
.rate-24h.low, .data-age.aging { color: var(--fail-fg); font-weight: 600; }
.spark { display: block; }
.spark-ok { fill: var(--spark-ok); }
.spark-fail { fill: var(--spark-fail); }
.spark-empty { fill: var(--spark-empty); }
.error-text {
  font-family: var(--mono); font-size: 12px; white-space: pre-wrap; color: var(--fail-fg);
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3; overflow: hidden;
}
.error-text.resolved { color: var(--muted); }
.empty { text-align: center; color: var(--muted); padding: 24px; }
footer { margin-top: 10px; color: var(--muted); font-size: 12px; }
@media (max-width: 860px) {
  body { padding: 12px; }
  .updated { margin-left: 0; width: 100%; }
  .table-wrap { background: transparent; border: 0; }
  table.jobs, table.jobs tbody, table.jobs tr, table.jobs td { display: block; width: 100%; }
  table.jobs thead, table.jobs colgroup { display: none; }
  table.jobs tr { background: var(--surface); border: 1px solid var(--border); border-radius: 6px; margin-bottom: 10px; padding: 4px 0; }
  table.jobs tbody tr:hover td { background: transparent; }
  table.jobs tr[data-state="failing"] { border-left: 3px solid var(--spark-fail); }
  table.jobs tr[data-state="auth failed"] { border-left: 3px solid var(--auth-fg); }
  table.jobs tr td:first-child { box-shadow: none; }
  table.jobs td { display: grid; grid-template-columns: 96px minmax(0, 1fr); gap: 8px; border-top: 0; padding: 4px 12px; }
  table.jobs td::before { content: attr(data-label); color: var(--muted); font-size: 12px; padding-top: 1px; }
  table.jobs td.job-name { display: block; padding: 6px 12px 4px; font-size: 15px; }
  table.jobs td.job-name::before { content: none; }
  table.jobs td.job-name .sub { display: inline; margin-left: 8px; }
  table.jobs td.empty { display: block; }
  table.jobs td.empty::before { content: none; }
  .feasibility .meter { width: 100%; }
}
`;
