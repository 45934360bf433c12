/**
 * The route class of an upstream path: its template in shared/upstream-api.md,
 * with the ids replaced by their placeholders, so that a metric label has a
 * handful of values rather than one per project:
 * `/v2/groups/15555411412112/checkins/2424141521/topics` → `/v2/groups/{gid}/checkins/{cid}/topics`.
 * A decimal segment after `groups` is `{gid}`, after `checkins` `{cid}`, elsewhere `{id}`.
 */
export function routeClass(path: string): string {
  const segments = path.split('?')[0]!.split('/');
  return segments
    .map((segment, i) => {
      if (!/^\d+$/.test(segment)) return segment;
      const before = segments[i - 1];
      return before === 'groups' ? '{gid}' : before === 'checkins' ? '{cid}' : '{id}';
    })
    .join('/');
}

/** What ended an attempt that got no response, as a metric label: never a raw error message. */
export function failureClass(error: unknown): 'timeout' | 'reset' | 'network' | 'aborted' {
  const e = error as { name?: unknown; code?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const name = typeof e?.name === 'string' ? e.name : '';
  if (name === 'TimeoutError' || code === 'ETIMEDOUT') return 'timeout';
  if (name === 'AbortError' || code === 'ABORT_ERR' || code === 'ERR_CANCELED') return 'aborted';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') return 'reset';
  return 'network';
}
