import { z } from 'zod';
import { defineJob } from '../src/definition/types.js';
import { contractUser, count, id, text, user } from '../src/definition/schemas.js';

const PAGE_SIZE = 100;

const checkin = z.object({
  checkin_id: id,
  owner: user,
  title: text,
  text: text,
  checkin_days: count,
  validity: z.object({ long_period: z.boolean().optional(), expiration_time: text }).optional(),
  create_time: z.string(),
  status: z.string(),
  type: z.string(),
  joined_count: count,
  statistics: z
    .object({ joined_count: count, completed_count: count, today_checkined_count: count })
    .optional(),
  min_words_count: count,
});

const page = z.object({ checkins: z.array(checkin) });
type Page = z.infer<typeof page>;

/** The group's check-in projects per scope, and each listed project's info. */
export default defineJob<Page>({
  name: 'projects-list',
  description: 'projects of each scope, and every listed project’s info',
  schedule: { every: '1h' },
  ttl: '2h',
  emptyTtl: '1h',
  fanOut: 'group',
  variants: ['ongoing', 'closed', 'over'],
  keys: {
    list: 'projects:list:{scope}',
    info: 'project:{id}:info',
  },
  request: (unit) => ({
    path: `/v2/groups/${unit.groupId}/checkins`,
    query: { scope: unit.variant ?? 'ongoing', count: PAGE_SIZE },
  }),
  response: page,
  paging: {
    // The list pages like topics (assumed, see upstream-api.md): a full page
    // may have a successor, found with the last project's create_time.
    next: (pages, first) => {
      const last = pages[pages.length - 1]?.checkins;
      if (!last || last.length < PAGE_SIZE) return undefined;
      // Should the upstream ignore end_time, a page would repeat: stop there.
      const earlier = new Set(pages.slice(0, -1).flatMap((p) => p.checkins.map((c) => c.checkin_id)));
      if (pages.length > 1 && last.every((c) => earlier.has(c.checkin_id))) return undefined;
      return { path: first.path, query: { ...first.query, end_time: last[last.length - 1]!.create_time } };
    },
    maxPages: 100,
  },
  map: (pages, unit) => {
    const scope = unit.variant ?? 'ongoing';
    const seen = new Set<string>();
    const projects = pages
      .flatMap((p) => p.checkins)
      .filter((c) => !seen.has(c.checkin_id) && seen.add(c.checkin_id));
    const members = (c: (typeof projects)[number]) => ({
      total_members: c.statistics?.joined_count ?? c.joined_count,
      completed_members: c.statistics?.completed_count ?? 0,
      today_checkins: c.statistics?.today_checkined_count ?? 0,
    });
    const list = {
      key: 'list',
      params: { scope },
      value: {
        scope,
        projects: projects.map((c) => ({
          project_id: c.checkin_id,
          title: c.title,
          status: c.status,
          type: c.type,
          ...members(c),
          create_time: c.create_time,
        })),
        total: projects.length,
        cached_at: unit.cachedAt,
      },
      empty: projects.length === 0,
    };
    const infos = projects.map((c) => ({
      key: 'info',
      params: { id: c.checkin_id },
      value: {
        project_id: c.checkin_id,
        title: c.title,
        text: c.text,
        status: c.status,
        type: c.type,
        checkin_days: c.checkin_days,
        min_words_count: c.min_words_count,
        create_time: c.create_time,
        // A long-period project has no expiration: the upstream sends "".
        expiration_time: c.validity?.expiration_time || null,
        owner: contractUser(c.owner),
        ...members(c),
        cached_at: unit.cachedAt,
      },
      empty: false,
    }));
    return [list, ...infos];
  },
  providesProjects: {
    key: 'list',
    ids: (value) => {
      const projects = (value as { projects?: unknown }).projects;
      if (!Array.isArray(projects)) return [];
      return projects.map((p) => (p as { project_id?: unknown }).project_id).filter((x): x is string => typeof x === 'string');
    },
    detail: (unit) => ({ path: `/v2/groups/${unit.groupId}/checkins/${unit.projectId}` }),
    // A deleted project's detail answers `{"succeeded": true, "resp_data": {}}`.
    isGone: (data) => typeof data === 'object' && data !== null && !('checkin' in data),
    gone: (projectId, cachedAt) => ({
      key: 'info',
      params: { id: projectId },
      value: { project_id: projectId, status: 'deleted', gone: true, cached_at: cachedAt },
      empty: false,
    }),
  },
});
