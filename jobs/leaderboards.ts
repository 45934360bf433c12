import { z } from 'zod';
import { defineJob } from '../src/definition/types.js';
import { contractUser, count, user } from '../src/definition/schemas.js';

const MAX_RANKINGS = 100;

const page = z.object({
  // Required: an answer without the list is not an empty leaderboard.
  ranking_list: z.array(z.object({ user, rankings: count, checkined_days: count })),
});
type Page = z.infer<typeof page>;

/** Each project's continuous and accumulated leaderboards, best first, at most 100 rankings. */
export default defineJob<Page>({
  name: 'leaderboards',
  description: 'continuous and accumulated leaderboards of each project (top 100)',
  schedule: { every: '30m' },
  ttl: '1h',
  emptyTtl: '30m',
  fanOut: 'projects',
  variants: ['continuous', 'accumulated'],
  // A page of rankings, then the empty page that ends the list.
  requestsPerUnit: 2,
  keys: { leaderboard: 'project:{id}:leaderboard:{type}' },
  request: (unit) => ({
    path: `/v2/groups/${unit.groupId}/checkins/${unit.projectId}/ranking_list`,
    query: { type: unit.variant ?? 'continuous', index: 0 },
  }),
  response: page,
  paging: {
    // `index` is a 0-based page number; an empty page ends the list.
    next: (pages, first) => {
      const last = pages[pages.length - 1];
      const total = pages.reduce((n, p) => n + p.ranking_list.length, 0);
      if (!last || last.ranking_list.length === 0 || total >= MAX_RANKINGS) return undefined;
      return { path: first.path, query: { ...first.query, index: pages.length } };
    },
    maxPages: 20,
  },
  map: (pages, unit) => {
    const rankings = pages
      .flatMap((p) => p.ranking_list)
      .slice(0, MAX_RANKINGS)
      .map((r) => ({ rank: r.rankings, user: contractUser(r.user), days: r.checkined_days }));
    return [
      {
        key: 'leaderboard',
        params: { id: unit.projectId!, type: unit.variant! },
        value: { project_id: unit.projectId, type: unit.variant, rankings, total: rankings.length, cached_at: unit.cachedAt },
        empty: rankings.length === 0,
      },
    ];
  },
});
