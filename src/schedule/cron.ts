import { Cron } from 'croner';

/**
 * Cron expressions are checked and evaluated by croner. BullMQ evaluates the
 * same pattern when it schedules; croner here rejects a bad one at start,
 * before anything touches Redis, and tells `status` when the next run is.
 */
export function cronError(pattern: string, timeZone?: string): string | undefined {
  try {
    // `paused` with no callback: parse and compute, never fire.
    new Cron(pattern, { paused: true, ...(timeZone ? { timezone: timeZone } : {}) });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : 'invalid cron expression';
  }
}

export function nextCronRun(pattern: string, timeZone: string, after: Date = new Date()): Date | undefined {
  const next = new Cron(pattern, { paused: true, timezone: timeZone }).nextRun(after);
  return next ?? undefined;
}
