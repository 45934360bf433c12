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
      maxStale: { doc: 'How old a value may get while refreshes fail (replaces cache.maxStale).', format: 'duration', default: null, nullable: true },
    };
  }
  return {
    redis: {
      url: { doc: 'Redis for the queue, the cache and the status store.', format: 'redis-url', default: 'redis://127.0.0.1:6379', env: 'REDIS_URL', sensitive: true },
      queueUrl: { doc: 'Redis for the BullMQ queue and the status store (noeviction); default redis.url.', format: 'redis-url', default: null, nullable: true, env: 'REDIS_QUEUE_URL', sensitive: true },
      cacheUrl: { doc: 'Redis for the warmed keys (may evict); default redis.url.', format: 'redis-url', default: null, nullable: true, env: 'REDIS_CACHE_URL', sensitive: true },
      caFile: { doc: 'PEM file of the CA that signed the Redis servers’ TLS certificates (rediss://).', format: String, default: '', env: 'REDIS_CA_FILE' },
      cluster: {
        nodes: { doc: 'Redis Cluster startup nodes, host:port[,host:port…]; credentials and TLS still come from the URL of each role.', format: 'host-port-list', default: '', env: 'REDIS_CLUSTER_NODES' },
        for: { doc: 'Which roles use the cluster: both, queue or cache.', format: ['both', 'queue', 'cache'], default: 'both', env: 'REDIS_CLUSTER_FOR' },
      },
      sentinel: {
        nodes: { doc: 'Redis Sentinels, host:port[,host:port…]; the master’s credentials and TLS come from the URL of each role.', format: 'host-port-list', default: '', env: 'REDIS_SENTINELS' },
        name: { doc: 'The master name the sentinels monitor.', format: String, default: '', env: 'REDIS_SENTINEL_NAME' },
        password: { doc: 'Password of the sentinels themselves, if they require one (secret).', format: String, default: '', env: 'REDIS_SENTINEL_PASSWORD', sensitive: true },
        for: { doc: 'Which roles use the sentinels: both, queue or cache.', format: ['both', 'queue', 'cache'], default: 'both', env: 'REDIS_SENTINEL_FOR' },
      },
    },
    cache: {
      prefix: { doc: 'Prefix of every key the warmer writes.', format: 'key-prefix', default: 'zsxq', env: 'CACHE_PREFIX' },
      maxStale: { doc: 'While refreshes fail, keep serving a value until it is this old (by cached_at).', format: 'duration', default: '24h', env: 'CACHE_MAX_STALE' },
    },
    upstream: {
      baseUrl: { doc: 'Base URL of the upstream API.', format: 'http-url', default: 'https://api.zsxq.com', env: 'UPSTREAM_BASE_URL' },
      token: { doc: 'The authorization token (secret).', format: String, default: '', env: 'UPSTREAM_TOKEN', sensitive: true },
      tokenFile: { doc: 'A file holding the token (read when UPSTREAM_TOKEN is not set).', format: String, default: '', env: 'UPSTREAM_TOKEN_FILE' },
      groupId: { doc: 'The group whose check-ins are warmed.', format: 'decimal-id', default: '', env: 'UPSTREAM_GROUP_ID' },
      timeout: { doc: 'Time for one request attempt, first byte to last.', format: 'positive-duration', default: '5s', env: 'UPSTREAM_TIMEOUT' },
      deadline: { doc: 'Time for one request, all attempts and backoff included; keep it below shutdown.grace.', format: 'positive-duration', default: '8s', env: 'UPSTREAM_DEADLINE' },
      retries: { doc: 'Retries of one request after a 5xx, reset or timeout.', format: 'nat', default: 2, env: 'UPSTREAM_RETRIES' },
      maxBodyBytes: { doc: 'Largest body accepted, counted after decompression.', format: 'nat', default: 10 * 1024 * 1024, env: 'UPSTREAM_MAX_BODY_BYTES' },
      maxRetryAfter: { doc: 'Longest Retry-After honoured when throttled.', format: 'positive-duration', default: '60s', env: 'UPSTREAM_MAX_RETRY_AFTER' },
      concurrency: { doc: 'Requests in flight at once from one daemon process, every job and batch it runs together.', format: 'nat', default: 4, env: 'UPSTREAM_CONCURRENCY' },
      rateLimit: { doc: 'Requests per second to the upstream, for the whole fleet (through Redis); 0: no limit.', format: 'non-negative-number', default: 10, env: 'UPSTREAM_RATE_LIMIT' },
    },
    group: {
      timezone: { doc: 'The group’s time zone: local day of daily stats, cron runs.', format: 'time-zone', default: 'Asia/Shanghai', env: 'GROUP_TIMEZONE' },
    },
    projects: {
      scopes: { doc: 'Scopes whose projects get per-project keys.', format: 'scopes', default: ['ongoing'], env: 'PROJECT_SCOPES' },
    },
    worker: {
      concurrency: { doc: 'Jobs one daemon runs at once.', format: 'nat', default: 2, env: 'WORKER_CONCURRENCY' },
      batchSize: { doc: 'Units per batch job when a run is spread over the fleet; a run of at most this many units runs whole.', format: 'nat', default: 50, env: 'WORKER_BATCH_SIZE' },
      lockDuration: { doc: 'BullMQ job lock: a replica that dies mid-job loses it after this, and another takes the job over.', format: 'positive-duration', default: '30s', env: 'WORKER_LOCK_DURATION' },
      stalledInterval: { doc: 'How often BullMQ looks for jobs whose replica died.', format: 'positive-duration', default: '30s', env: 'WORKER_STALLED_INTERVAL' },
    },
    shutdown: {
      grace: { doc: 'After SIGTERM, how long running refreshes may take before they are abandoned.', format: 'positive-duration', default: '10s', env: 'SHUTDOWN_GRACE' },
    },
    watchdog: {
      interval: { doc: 'How often the daemon re-checks its schedulers and that its worker consumes.', format: 'positive-duration', default: '30s', env: 'WATCHDOG_INTERVAL' },
      stuckAfter: { doc: 'A worker that takes no job while a scheduler is this overdue is recreated.', format: 'positive-duration', default: '2m', env: 'WATCHDOG_STUCK_AFTER' },
    },
    http: {
      enabled: { doc: 'Whether the daemon serves /healthz, /readyz, /metrics, /status, the status page and the admin routes.', format: 'switch', default: true, env: 'HTTP_ENABLED' },
      port: { doc: 'TCP port of the HTTP server; 0 picks a free port (logged as "http listening").', format: 'tcp-port', default: 9464, env: 'HTTP_PORT' },
      host: { doc: 'Address the HTTP server binds: 127.0.0.1 keeps it on the machine; 0.0.0.0 in a container.', format: 'listen-host', default: '127.0.0.1', env: 'HTTP_HOST' },
      adminToken: { doc: 'Bearer token of the admin routes (POST /refresh/{job}); unset: they answer 403 (secret).', format: String, default: '', env: 'HTTP_ADMIN_TOKEN', sensitive: true },
      adminTokenFile: { doc: 'A file holding the admin token (read when HTTP_ADMIN_TOKEN is not set).', format: String, default: '', env: 'HTTP_ADMIN_TOKEN_FILE' },
    },
    memory: {
      heapGrowth: {
        doc: 'How far V8 lets the heap grow past its live data before a full collection, in percent (1–1000); 0: V8’s own (up to 300 %). Ignored when node is started with --heap-growing-percent.',
        format: 'heap-growth',
        default: 50,
        env: 'MEMORY_HEAP_GROWTH',
      },
      semiSpaceMb: {
        doc: 'Largest semi-space of V8’s young generation, in MB: 1, 2, 4, 8 or 16; 0: V8’s own (16 MB). Ignored when node is started with --max-semi-space-size.',
        format: 'semi-space-mb',
        default: 8,
        env: 'MEMORY_SEMI_SPACE_MB',
      },
    },
    log: {
      level: { doc: 'pino log level.', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', env: 'LOG_LEVEL' },
    },
    jobs,
  };
}
