/**
 * The convict schema: every setting an operator can change, its environment
 * variable and its default. Per-job settings are generated for the job names
 * found in jobs/, so a new job file is configurable with no edit here; their
 * defaults are null, meaning "as the job file declares".
 */
export function buildSchema(jobNames: readonly string[]) {
  const jobs: Record<string, object> = {};
  for (const name of jobNames) {
    jobs[name] = {
      enabled: { doc: 'Whether the job is scheduled at all.', format: Boolean, default: true },
      every: { doc: 'Cadence as a duration (replaces the job file’s).', format: 'positive-duration', default: null, nullable: true },
      cron: { doc: 'Cadence as a cron expression in the group’s time zone (instead of every).', format: 'cron', default: null, nullable: true },
      alsoAt: { doc: 'An extra cron run in the group’s time zone; false to drop the job file’s.', format: '*', default: null, nullable: true },
      ttl: { doc: 'TTL of a value.', format: 'positive-duration', default: null, nullable: true },
      emptyTtl: { doc: 'TTL of an empty answer.', format: 'positive-duration', default: null, nullable: true },
    };
  }
  return {
    redis: {
      url: { doc: 'Redis for the queue, the cache and the status store.', format: 'redis-url', default: 'redis://127.0.0.1:6379', env: 'REDIS_URL', sensitive: true },
    },
    cache: {
      prefix: { doc: 'Prefix of every key the warmer writes.', format: 'key-prefix', default: 'zsxq', env: 'CACHE_PREFIX' },
    },
    upstream: {
      baseUrl: { doc: 'Base URL of the upstream API.', format: 'http-url', default: 'https://api.zsxq.com', env: 'UPSTREAM_BASE_URL' },
      token: { doc: 'The authorization token (secret).', format: String, default: '', env: 'UPSTREAM_TOKEN', sensitive: true },
      tokenFile: { doc: 'A file holding the token (read when UPSTREAM_TOKEN is not set).', format: String, default: '', env: 'UPSTREAM_TOKEN_FILE' },
      groupId: { doc: 'The group whose check-ins are warmed.', format: 'decimal-id', default: '', env: 'UPSTREAM_GROUP_ID' },
      timeout: { doc: 'Time for one request attempt, first byte to last.', format: 'positive-duration', default: '15s', env: 'UPSTREAM_TIMEOUT' },
      retries: { doc: 'Retries of one request after a 5xx, reset or timeout.', format: 'nat', default: 2, env: 'UPSTREAM_RETRIES' },
      concurrency: { doc: 'Requests in flight at once within one job run.', format: 'nat', default: 4, env: 'UPSTREAM_CONCURRENCY' },
    },
    group: {
      timezone: { doc: 'The group’s time zone: local day of daily stats, cron runs.', format: 'time-zone', default: 'Asia/Shanghai', env: 'GROUP_TIMEZONE' },
    },
    projects: {
      scopes: { doc: 'Scopes whose projects get per-project keys.', format: 'scopes', default: ['ongoing'], env: 'PROJECT_SCOPES' },
    },
    worker: {
      concurrency: { doc: 'Jobs one daemon runs at once.', format: 'nat', default: 2, env: 'WORKER_CONCURRENCY' },
    },
    log: {
      level: { doc: 'pino log level.', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', env: 'LOG_LEVEL' },
    },
    jobs,
  };
}
