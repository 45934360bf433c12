import { describe, expect, it } from 'vitest';
import { formatTable, type StatusDocument } from '../../src/cli/commands/status.js';
import type { JobStatus } from '../../src/status/store.js';

const NOW = Date.parse('2026-01-10T12:00:00.000Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

function job(overrides: Partial<JobStatus> & { name: string; schedule?: string; nextRunAt?: string | null }): StatusDocument['jobs'][number] {
  return {
    runs: 0,
    successes: 0,
    failures: 0,
    itemsOk: 0,
    itemsFailed: 0,
    successRate: null,
    successRate24h: null,
    runs24h: 0,
    successRate1h: null,
    runs1h: 0,
    history: [],
    firstRunAt: null,
    lastRunAt: null,
    lastSuccessAt: null,
    lastFailureAt: null,
    lastError: null,
    lastDurationMs: null,
    lastKeysWritten: null,
    lastBytesWritten: null,
    lastTrigger: null,
    state: 'never run',
    throttles: 0,
    lastThrottledAt: null,
    authFailedAt: null,
    lastFullSuccessAt: null,
    dataAgeSeconds: null,
    schedule: 'every 5m',
    nextRunAt: null,
    ...overrides,
  };
}

function doc(jobs: StatusDocument['jobs'], warnings: string[] = []): StatusDocument {
  return { jobs, feasibility: { projects: 36, neededPerSecond: 0.26, limitPerSecond: 10, fits: warnings.length === 0, warnings } };
}

/** The table's rows as objects keyed by column header (columns are separated by two or more spaces). */
function rows(table: string): Array<Record<string, string>> {
  const lines = table.split('\n');
  const header = lines[0]!;
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index! }));
  return lines.slice(1, lines.indexOf('')).map((line) =>
    Object.fromEntries(starts.map((c, i) => [c.name, line.slice(c.at, starts[i + 1]?.at ?? line.length).trim()])),
  );
}

describe('formatTable', () => {
  it('has the RATE 1H and DATA AGE columns beside the 24-hour and all-time rates and the next run', () => {
    const table = formatTable(doc([job({ name: 'topics' })]), NOW);
    expect(table.split('\n')[0]!.split(/ {2,}/)).toEqual([
      'JOB', 'STATE', 'SCHEDULE', 'RUNS', 'OK', 'FAIL', 'RATE 1H', 'RATE 24H', 'RATE ALL', 'LAST SUCCESS', 'LAST FAILURE', 'DATA AGE', 'DURATION', 'KEYS', 'NEXT RUN', 'LAST ERROR',
    ]);
  });

  it('shows each rate as a percentage, the data age as a span, and dashes where there is nothing yet', () => {
    const table = formatTable(
      doc([
        job({
          name: 'topics',
          state: 'failing',
          runs: 10,
          successes: 9,
          failures: 1,
          successRate: 0.9,
          successRate24h: 0.875,
          successRate1h: 0.5,
          lastSuccessAt: iso(8 * 60_000),
          lastFailureAt: iso(30_000),
          lastFullSuccessAt: iso(8 * 60_000 + 1_500),
          dataAgeSeconds: 481.5,
          lastDurationMs: 314,
          lastKeysWritten: 36,
          nextRunAt: new Date(NOW + 4 * 60_000).toISOString(),
          lastError: 'ERR_UPSTREAM_HTTP: GET /v2/groups/1/checkins: HTTP 503',
        }),
        job({ name: 'leaderboards', schedule: 'every 30m' }),
      ]),
      NOW,
    );
    const [topics, leaderboards] = rows(table);
    expect(topics).toMatchObject({
      JOB: 'topics',
      STATE: 'failing',
      'RATE 1H': '50.0%',
      'RATE 24H': '87.5%',
      'RATE ALL': '90.0%',
      'LAST SUCCESS': '8m ago',
      'LAST FAILURE': '30s ago',
      'DATA AGE': '8m',
      DURATION: '314ms',
      KEYS: '36',
      'NEXT RUN': 'in 4m',
      'LAST ERROR': 'ERR_UPSTREAM_HTTP: GET /v2/groups/1/checkins: HTTP 503',
    });
    expect(leaderboards).toMatchObject({ JOB: 'leaderboards', STATE: 'never run', 'RATE 1H': '-', 'RATE 24H': '-', 'DATA AGE': '-', 'NEXT RUN': '-' });
  });

  it('reads the data age at the instant given, in seconds, minutes or hours', () => {
    const ages = [[45_000, '45s'], [27 * 60_000, '27m'], [5 * 3_600_000, '5h']] as const;
    for (const [msAgo, text] of ages) {
      const [row] = rows(formatTable(doc([job({ name: 'topics', lastFullSuccessAt: iso(msAgo), dataAgeSeconds: 1 })]), NOW));
      expect(row!['DATA AGE'], text).toBe(text);
    }
  });

  it('ends with the upstream load and a line per feasibility warning', () => {
    const warning = 'topics needs 33 req/s for 10000 projects every 5m; limit is 10 req/s for all jobs (37 needed); every 19m would fit';
    const lines = formatTable(doc([job({ name: 'topics' })], [warning]), NOW).split('\n');
    expect(lines.slice(-2)).toEqual(['upstream load: 0.26 req/s needed for 36 projects; limit 10 req/s', `warning: ${warning}`]);
  });
});
