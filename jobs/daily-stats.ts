import { z } from 'zod';
import { defineJob } from '../src/definition/types.js';
import { localDate, upstreamTimestamp } from '../src/shared/time.js';

// Required: an answer without the count (a glitch) must not become 0 check-ins.
const page = z.object({ checkined_count: z.number().int().nonnegative() });

/** Today's check-ins of every project, "today" being the group's local day. */
export default defineJob<z.infer<typeof page>>({
  name: 'daily-stats',
  description: 'check-ins of the group’s current local day, per project',
  // The extra run a few seconds after local midnight replaces yesterday's
  // count at once instead of up to 15 minutes into the new day.
  schedule: { every: '15m', alsoAt: '5 0 0 * * *' },
  ttl: '30m',
  emptyTtl: '15m',
  fanOut: 'projects',
  keys: { daily: 'project:{id}:daily_stats' },
  request: (unit) => ({
    path: `/v2/groups/${unit.groupId}/checkins/${unit.projectId}/statistics/daily`,
    query: { date: upstreamTimestamp(unit.now, unit.timeZone) },
  }),
  response: page,
  map: ([p], unit) => [
    {
      key: 'daily',
      params: { id: unit.projectId! },
      value: {
        project_id: unit.projectId,
        date: localDate(unit.now, unit.timeZone),
        total_checkins: p!.checkined_count,
        cached_at: unit.cachedAt,
      },
      empty: false,
    },
  ],
});
