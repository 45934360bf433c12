/**
 * Durations in configuration and job definitions: a number of milliseconds, or
 * a string such as `500ms`, `30s`, `5m`, `2h`, `1d`. A deliberately small
 * grammar: "5 minutes" or "1.5h" are rejected so that a typo cannot silently
 * become a different cadence.
 */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d{1,12})(ms|s|m|h|d)?$/;

export const DURATION_HINT = 'e.g. 500ms, 30s, 5m, 2h';

/** Parses a duration to milliseconds, or returns undefined when it is not one. */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  }
  if (typeof input !== 'string') return undefined;
  const match = PATTERN.exec(input.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  const ms = Number(match[1]) * UNIT_MS[unit];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Milliseconds as the shortest exact duration string: 300000 → "5m". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** Redis `EX` takes whole seconds; a TTL below one second still gets one. */
export function ttlSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
