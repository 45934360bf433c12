/**
 * The time windows of the status store, computed from its 5-minute buckets
 * (`{start}:ok` / `{start}:fail` → count, start in epoch ms): the 1-hour and
 * 24-hour success rates and the hourly history the status page draws as a
 * sparkline. Pure, so that it is tested with chosen instants.
 */

export const BUCKET_MS = 5 * 60_000;
export const HOUR_MS = 3_600_000;
/** Buckets are kept this long (the record script drops older ones). */
export const WINDOW_MS = 24 * HOUR_MS;
/** The 1-hour rate reads the last 12 buckets: the current one and the 11 before it. */
const BUCKETS_1H = HOUR_MS / BUCKET_MS;
const HISTORY_HOURS = 24;

/** One hour of runs, for a sparkline. */
export interface HistoryPoint {
  /** Start of the hour (UTC, ISO-8601). */
  start: string;
  ok: number;
  fail: number;
}

export interface Windows {
  /** Successful runs ÷ runs over the last 12 five-minute buckets; null when there was none. */
  successRate1h: number | null;
  runs1h: number;
  /** The same over the buckets that overlap the last 24 hours. */
  successRate24h: number | null;
  runs24h: number;
  /** 24 points, one per hour, oldest first; the last one is the current (partial) hour. */
  history: HistoryPoint[];
}

export function bucketStart(at: number): number {
  return Math.floor(at / BUCKET_MS) * BUCKET_MS;
}

export function windows(buckets: Record<string, string>, now: number): Windows {
  const cutoff24h = now - WINDOW_MS;
  const first1h = bucketStart(now) - (BUCKETS_1H - 1) * BUCKET_MS;
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const firstHour = currentHour - (HISTORY_HOURS - 1) * HOUR_MS;
  const history: HistoryPoint[] = Array.from({ length: HISTORY_HOURS }, (_, i) => ({
    start: new Date(firstHour + i * HOUR_MS).toISOString(),
    ok: 0,
    fail: 0,
  }));
  let ok24 = 0;
  let fail24 = 0;
  let ok1 = 0;
  let fail1 = 0;
  for (const [field, value] of Object.entries(buckets)) {
    const [startText, kind] = field.split(':');
    const start = Number(startText);
    const count = Number(value);
    if (!Number.isFinite(start) || !Number.isFinite(count)) continue;
    const ok = kind === 'ok';
    if (start + BUCKET_MS > cutoff24h) {
      if (ok) ok24 += count;
      else fail24 += count;
    }
    if (start >= first1h) {
      if (ok) ok1 += count;
      else fail1 += count;
    }
    // An hour holds twelve whole buckets (an hour is a multiple of five
    // minutes). A bucket ahead of `now` (a replica whose clock runs ahead)
    // counts in the rates, as it always did, and in the current hour.
    const hour = Math.min(currentHour, Math.floor(start / HOUR_MS) * HOUR_MS);
    if (hour >= firstHour) {
      const point = history[(hour - firstHour) / HOUR_MS]!;
      if (ok) point.ok += count;
      else point.fail += count;
    }
  }
  return {
    successRate1h: ok1 + fail1 === 0 ? null : ok1 / (ok1 + fail1),
    runs1h: ok1 + fail1,
    successRate24h: ok24 + fail24 === 0 ? null : ok24 / (ok24 + fail24),
    runs24h: ok24 + fail24,
    history,
  };
}
