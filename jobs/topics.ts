import { z } from 'zod';
import { defineJob } from '../src/definition/types.js';
import { contractUser, count, id, text, user } from '../src/definition/schemas.js';

const LATEST = 20;

const topic = z.object({
  topic_id: id,
  // The same id as a string: preferred, since it survives any JSON parser.
  topic_uid: id.optional(),
  title: text,
  talk: z.object({ owner: user, text: text }).optional(),
  likes_count: count,
  comments_count: count,
  reading_count: count,
  create_time: z.string(),
});

// The list must be there (`"topics": []` when empty): an answer without it is
// not an empty answer, and must not replace good data with an empty list.
const page = z.object({ topics: z.array(topic) });
type Page = z.infer<typeof page>;

/** The 20 latest check-in topics of every project, newest first. */
export default defineJob<Page>({
  name: 'topics',
  description: 'the 20 latest check-in topics of each project',
  schedule: { every: '5m' },
  ttl: '10m',
  emptyTtl: '5m',
  fanOut: 'projects',
  keys: { topics: 'project:{id}:topics' },
  request: (unit) => ({
    path: `/v2/groups/${unit.groupId}/checkins/${unit.projectId}/topics`,
    query: { count: LATEST },
  }),
  response: page,
  map: ([p], unit) => {
    const topics = [...p!.topics]
      // Timestamps share one format and zone, so text order is time order.
      .sort((a, b) => (a.create_time < b.create_time ? 1 : a.create_time > b.create_time ? -1 : 0))
      .slice(0, LATEST)
      .map((t) => ({
        topic_id: t.topic_uid ?? t.topic_id,
        title: t.title,
        text: t.talk?.text ?? '',
        create_time: t.create_time,
        user: t.talk ? contractUser(t.talk.owner) : null,
        likes_count: t.likes_count,
        comments_count: t.comments_count,
        reading_count: t.reading_count,
      }));
    return [
      {
        key: 'topics',
        params: { id: unit.projectId! },
        value: { project_id: unit.projectId, topics, cached_at: unit.cachedAt },
        empty: topics.length === 0,
      },
    ];
  },
});
