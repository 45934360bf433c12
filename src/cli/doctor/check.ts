import { scrub } from '../../shared/secrets.js';

/** `warn` does not fail doctor; `skip` says a check could not run because an earlier one failed. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  /** Stable, for scripts reading `doctor --json`: `config`, `redis.queue`, `upstream.token`, … */
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
}

export const check = (id: string, title: string, status: CheckStatus, detail: string): Check => ({ id, title, status, detail: scrub(detail) });

const MARK: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };

export interface DoctorReport {
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: Check[];
}

export function report(checks: readonly Check[]): DoctorReport {
  const summary: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) summary[c.status] += 1;
  return { ok: summary.fail === 0, summary, checks: [...checks] };
}

/** One line per check, `✓ title  detail`, then a count. */
export function formatReport(doc: DoctorReport): string {
  const width = Math.max(...doc.checks.map((c) => c.title.length));
  const lines = doc.checks.map((c) => `${MARK[c.status]} ${c.title.padEnd(width)}  ${c.detail}`);
  const s = doc.summary;
  const parts = [`${s.ok} ok`, ...(s.warn ? [`${s.warn} warning${s.warn === 1 ? '' : 's'}`] : []), ...(s.fail ? [`${s.fail} failed`] : []), ...(s.skip ? [`${s.skip} skipped`] : [])];
  return [...lines, '', `${doc.checks.length} checks: ${parts.join(', ')}`].join('\n');
}
