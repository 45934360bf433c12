import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { listKeys, type KeyListing } from '../../cache/admin.js';
import { closeRedis } from '../../shared/redis.js';
import type { KeyTarget } from '../args.js';
import { openRedis } from '../connect.js';
import { formatBytes, formatDuration, table } from '../format.js';
import { prefixHint, resolveTarget } from '../key-target.js';

export interface KeysOptions {
  target: KeyTarget;
  limit: number;
  json: boolean;
}

/**
 * Lists the warmed keys in the cache Redis (REDIS_CACHE_URL) with TTL left,
 * age (from the value's `cached_at`) and size. Size is the value's length in
 * bytes, what STRLEN returns: what a reader's GET transfers, and the unit of
 * the status store's bytes written. MEMORY USAGE would add Redis's own
 * per-key overhead, which depends on the allocator and encoding, is an extra
 * command per key and is often not granted to an application's ACL user.
 * The length is taken from the GET that reads `cached_at`, so it costs
 * nothing more. Exit 0, also when nothing matches.
 */
export async function keysCommand(jobs: readonly ParsedJob[], config: Config, options: KeysOptions, out: (line: string) => void): Promise<number> {
  const resolved = resolveTarget(options.target, jobs, config);
  const redis = await openRedis(config.redis.cache, 'cache');
  let listing: KeyListing;
  try {
    listing = await listKeys(redis, resolved.space, resolved.selector, options.limit, resolved.families);
  } finally {
    await closeRedis(redis);
  }
  if (options.json) {
    out(
      JSON.stringify(
        {
          prefix: config.cache.prefix,
          ...resolved.json,
          sizeUnit: 'bytes (STRLEN)',
          listed: listing.keys.length,
          matched: listing.matched,
          limit: options.limit,
          truncated: listing.truncated,
          keys: listing.keys.map((k) => ({
            key: k.key,
            job: k.job,
            ttlSeconds: k.ttlMs === null ? null : Math.round(k.ttlMs / 1000),
            cachedAt: k.cachedAt,
            ageSeconds: k.ageMs === null ? null : Math.round(k.ageMs / 1000),
            bytes: k.bytes,
          })),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  if (listing.keys.length === 0) {
    const hint = prefixHint(options.target, config.cache.prefix);
    out(`no warmed key matches ${resolved.description}${hint ? ` (${hint})` : ''}`);
    return 0;
  }
  const rows = listing.keys.map((k) => [
    k.key,
    k.job ?? '-',
    k.ttlMs === null ? 'none' : formatDuration(k.ttlMs),
    k.ageMs === null ? '-' : formatDuration(k.ageMs),
    k.bytes === null ? '-' : formatBytes(k.bytes),
  ]);
  const total = listing.keys.reduce((n, k) => n + (k.bytes ?? 0), 0);
  out(table(['KEY', 'JOB', 'TTL', 'AGE', 'SIZE'], rows));
  out('');
  out(`${listing.keys.length} keys, ${formatBytes(total)} of values (SIZE is the value's length, STRLEN; AGE is from cached_at)`);
  if (listing.truncated) {
    out(`showing ${listing.keys.length} of ${listing.matched} matching keys (--limit ${options.limit}): narrow PATTERN or raise --limit`);
  }
  return 0;
}
