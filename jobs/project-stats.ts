import { z } from 'zod';
import { defineJob } from '../src/definition/types.js';
import { count } from '../src/definition/schemas.js';

const page = z.object({
  statistics: z.object({ joined_count: count, completed_count: count, checkined_count: count }),
});

/** Members, completions and total check-ins of every project. */
export default defineJob<z.infer<typeof page>>({
  name: 'project-stats',
  description: 'members, completions and check-ins of each project',
  schedule: { every: '30m' },
  ttl: '1h',
  emptyTtl: '30m',
  fanOut: 'projects',
  keys: { stats: 'project:{id}:stats' },
  request: (unit) => ({ path: `/v2/groups/${unit.groupId}/checkins/${unit.projectId}/statistics` }),
  response: page,
  map: ([p], unit) => [
    {
      key: 'stats',
      params: { id: unit.projectId! },
      value: {
        project_id: unit.projectId,
        total_members: p!.statistics.joined_count,
        completed_members: p!.statistics.completed_count,
        total_checkins: p!.statistics.checkined_count,
        cached_at: unit.cachedAt,
      },
      empty: false,
    },
  ],
});
