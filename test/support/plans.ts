import type { JobSettings } from '../../config/load.js';

/** Per-job settings as the loader gives them when nothing is configured, with `over` applied. */
export const jobSettings = (over: Partial<JobSettings> = {}): JobSettings => ({
  enabled: true,
  everyMs: null,
  cron: null,
  alsoAt: undefined,
  ttlMs: null,
  emptyTtlMs: null,
  maxStaleMs: null,
  ...over,
});
