import { FlowProducer, Queue, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { ParsedJob } from './definition/parse.js';
import { createRuntime, queuePrefix, QUEUE_NAME } from './runtime.js';
import { addManualRun, desiredSchedulers, reconcileSchedulers, describeSchedule, JOB_OPTIONS, type WarmJobData } from './schedule/schedulers.js';
import { startWorker } from './worker/worker.js';
import { closeRedis, connectRedis, describeTarget } from './shared/redis.js';
import { reviveEnded, warnOnEvictionPolicy } from './redis-checks.js';
import { Watchdog } from './watchdog.js';
import { ErrorReporter } from './shared/error-reporter.js';
import { WarmerError } from './shared/errors.js';
import { scrub } from './shared/secrets.js';
import { feasibility } from './schedule/feasibility.js';
import { countCachedProjects } from './worker/projects.js';
import { createMetrics, QUEUE_STATES, type Metrics } from './metrics/registry.js';
import { withDeadline } from './metrics/deadline.js';
import { buildStatusDocument } from './status/document.js';
import { liveness, readiness, type Phase } from './http/health.js';
import { createRouter, type HttpApp } from './http/routes.js';
import { startHttpServer, type HttpServer } from './http/server.js';
import { renderStatusPage, STATUS_PAGE_HEADERS } from './http/page.js';

/** How long /readyz waits for PING, and /status and POST /refresh for Redis. */
const PROBE_TIMEOUT_MS = 1_000;
const HTTP_REDIS_TIMEOUT_MS = 5_000;

export interface Daemon {
  /** Waits for Redis (however long it takes), registers the schedulers and starts the worker. */
  start(): Promise<void>;
  /**
   * Drains: no new job or unit starts; running refreshes get `shutdown.grace`
   * to finish, then their requests are abandoned and the jobs go back to the
   * queue; connections close. Safe to call at any time, also during start.
   */
  stop(): Promise<void>;
  /** Closes at once: running refreshes are abandoned (BullMQ retries them as stalled). */
  forceStop(): Promise<void>;
  /** Where the HTTP server listens, once start() has started it; undefined when disabled or it could not listen. */
  httpAddress(): { host: string; port: number } | undefined;
}

/** Wires config → schedulers → worker → upstream → cache → status. */
export function createDaemon(jobs: readonly ParsedJob[], config: Config, logger: Logger): Daemon {
  const reporter = new ErrorReporter(logger);
  const jobNames = jobs.map((j) => j.name);
  // Made before the runtime, which reports to it; its scrape-time reads use the runtime and the queue below.
  const metrics: Metrics | undefined = config.http.enabled
    ? createMetrics({
        jobs: jobNames,
        readStatus: () => runtime.run.status.read(jobNames),
        queueCounts: async () => {
          // Not queued behind a reconnect: a scrape during an outage answers at once, without these series.
          queueReady();
          return queue.getJobCounts(...QUEUE_STATES);
        },
        onCollectError: (source, error) => logger.debug({ err: error, source }, 'metrics: series left out, Redis did not answer in time'),
      })
    : undefined;
  const runtime = createRuntime(jobs, config, logger, reporter, metrics ? { status: metrics.status, upstream: metrics.upstream } : {});
  const plans = [...runtime.plans.values()];
  const prefix = queuePrefix(config);
  const target = config.redis.queue;
  const queueConnection = connectRedis(target, 'queue');
  const workerConnection = connectRedis(target, 'queue');
  for (const [name, client] of [['queue', queueConnection], ['worker', workerConnection]] as const) {
    client.on('error', (error) => reporter.report(name, error));
    client.on('ready', () => reporter.recovered(name));
  }
  const queue = new Queue<WarmJobData>(QUEUE_NAME, { connection: queueConnection, prefix });
  // BullMQ re-emits its connection's errors: reported under the same name, rate-limited together.
  queue.on('error', (error) => reporter.report('queue', error));
  const flow = new FlowProducer({ connection: queueConnection, prefix });
  flow.on('error', (error) => reporter.report('queue', error));
  const desired = desiredSchedulers(plans, config.group.timezone);
  let worker: Worker | undefined;
  let stopped = false;
  let lastActivity = Date.now();
  // Liveness has its own clock: the watchdog resets lastActivity when it
  // recreates a stuck worker (to give the new one time), which must not make
  // a worker that still takes nothing look alive to /healthz.
  let lastConsumed = Date.now();
  // Until then a disconnected queue connection is the watchdog's own doing
  // (it reconnects everything when it recreates the worker), not an outage.
  let ownReconnectUntil = 0;
  let activeJobs = 0;
  let phase: Phase = 'starting';
  let schedulersRegistered = false;
  /** The schedulers' next runs as the watchdog last read them: what /healthz judges a stuck worker by. */
  let lastSchedulers: { nexts: number[]; readAt: number } | undefined;
  let http: HttpServer | undefined;
  const queueReady = () => {
    if (queueConnection.status !== 'ready') throw new WarmerError('ERR_CACHE', `redis unreachable (the queue connection is ${queueConnection.status})`);
  };

  runtime.run.upstream.auth.on('closed', () => {
    const message = 'ERR_UPSTREAM_AUTH: the upstream refused the token (HTTP 401); no request is sent until the token changes';
    logger.error('upstream token refused (HTTP 401): every job is paused until the token changes (rotate UPSTREAM_TOKEN_FILE)');
    void runtime.run.status.markAuthFailed(plans.filter((p) => p.enabled).map((p) => p.job.name), Date.now(), message).catch((error) => {
      logger.warn({ err: error }, 'could not mark the jobs auth failed in the status store');
    });
  });
  runtime.run.upstream.auth.on('opened', () => logger.info('upstream accepts the token again: refreshes resume'));

  const newWorker = () =>
    startWorker({
      queueName: QUEUE_NAME,
      prefix,
      connection: workerConnection,
      concurrency: config.worker.concurrency,
      lockDurationMs: config.worker.lockDurationMs,
      stalledIntervalMs: config.worker.stalledIntervalMs,
      plans: runtime.plans,
      run: runtime.run,
      logger,
      reporter,
      fanOut: { queue, flow, redis: queueConnection, batchSize: config.worker.batchSize, jobOptions: JOB_OPTIONS },
      onActiveChange: (delta) => {
        activeJobs += delta;
      },
      onActivity: () => {
        lastActivity = Date.now();
        lastConsumed = lastActivity;
      },
    });

  const watchdog = new Watchdog({
    intervalMs: config.watchdog.intervalMs,
    stuckAfterMs: config.watchdog.stuckAfterMs,
    logger,
    reconcile: async () => {
      if (!stopped) reviveEnded({ queue: queueConnection, worker: workerConnection, cache: runtime.cacheRedis, status: runtime.statusRedis }, logger);
      const report = await reconcileSchedulers(queue, desired, 'missing');
      if (report.upserted.length || report.removed.length) {
        logger.warn(report, 'schedulers were missing, edited or had lost their next run (Redis flushed, evicted, failed over?): re-registered');
      }
      await checkFeasibility().catch((error: unknown) => logger.debug({ err: error }, 'feasibility check failed'));
      const schedulers = await queue.getJobSchedulers(0, -1, true);
      lastSchedulers = { nexts: schedulers.map((s) => Number(s.next)).filter((n) => Number.isFinite(n)), readAt: Date.now() };
      return schedulers;
    },
    lastActivity: () => lastActivity,
    activeJobs: () => activeJobs,
    // 'connect': the socket is up but the handshake got no answer (a black hole).
    connected: () => queueConnection.status === 'ready' || queueConnection.status === 'connect',
    recreateWorker: async () => {
      // A connection that stopped answering without an error (a half-open
      // socket after a failover, a dropped route) never fails by itself:
      // reconnect every connection; ioredis resends what was pending.
      ownReconnectUntil = Date.now() + 5_000;
      for (const client of [queueConnection, workerConnection, runtime.cacheRedis, runtime.statusRedis]) client.disconnect(true);
      const old = worker;
      worker = undefined;
      void old?.close(true).catch((error: unknown) => logger.warn({ err: error }, 'closing the stuck worker failed'));
      activeJobs = 0;
      if (!stopped) worker = newWorker();
      lastActivity = Date.now();
    },
  });

  /** Warns, once per change of verdict, when the cadences need more requests than the rate limit allows. */
  let lastFeasibility = '';
  async function checkFeasibility(): Promise<void> {
    const projects = await countCachedProjects(runtime.run.projectsProvider, runtime.run.cache, config.projects.scopes);
    const fit = feasibility(plans, projects, config.upstream.rateLimit, config.group.timezone);
    const verdict = fit.warnings.join('\n');
    if (verdict === lastFeasibility) return;
    lastFeasibility = verdict;
    for (const warning of fit.warnings) logger.warn({ neededPerSecond: fit.neededPerSecond, limitPerSecond: fit.limitPerSecond }, warning);
  }

  const app: HttpApp = {
    liveness: () =>
      liveness({
        now: Date.now(),
        phase,
        workerRunning: worker !== undefined && !worker.closing,
        queueConnected: queueConnection.status === 'ready' || Date.now() < ownReconnectUntil,
        lastActivity: lastConsumed,
        activeJobs,
        ...(lastSchedulers ? { schedulers: lastSchedulers } : {}),
        stuckAfterMs: config.watchdog.stuckAfterMs,
        watchdogIntervalMs: config.watchdog.intervalMs,
      }),
    async readiness() {
      const connections: Record<string, string> = {
        queue: queueConnection.status,
        worker: workerConnection.status,
        cache: runtime.cacheRedis.status,
      };
      if (runtime.statusRedis !== runtime.cacheRedis) connections.status = runtime.statusRedis.status;
      const input = { phase, schedulersRegistered, connections };
      const first = readiness(input);
      if (!first.ok) return first;
      // Connected is not answering (a frozen Redis keeps its sockets): ask.
      try {
        await withDeadline(queueConnection.ping(), PROBE_TIMEOUT_MS, 'PING on the queue connection');
        return readiness({ ...input, ping: { ok: true } });
      } catch (error) {
        return readiness({ ...input, ping: { ok: false, reason: scrub(error instanceof Error ? error.message : 'PING failed') } });
      }
    },
    metrics: () => metrics!.render(),
    async status() {
      queueReady();
      return withDeadline(
        buildStatusDocument({
          plans: runtime.plans,
          store: runtime.run.status,
          queue,
          cache: runtime.run.cache,
          scopes: config.projects.scopes,
          rateLimit: config.upstream.rateLimit,
          timeZone: config.group.timezone,
        }),
        HTTP_REDIS_TIMEOUT_MS,
        'status',
      );
    },
    job: (name) => {
      const plan = runtime.plans.get(name);
      return plan === undefined ? undefined : plan.enabled ? 'enabled' : 'disabled';
    },
    async refresh(job) {
      queueReady();
      return withDeadline(addManualRun(queue, job), HTTP_REDIS_TIMEOUT_MS, 'queueing the refresh');
    },
    adminToken: () => config.http.adminToken(),
    page: () => ({ html: renderStatusPage(), headers: STATUS_PAGE_HEADERS }),
  };

  /**
   * The HTTP server is the daemon's window, not its purpose: when it cannot
   * listen (the port is taken), an error says so and the daemon warms
   * without it, since apps need the keys more than operators need the
   * metrics; a probe of /healthz then fails, which is how an orchestrator
   * notices.
   */
  async function startHttp(): Promise<void> {
    if (!config.http.enabled) return;
    try {
      const server = await startHttpServer({ host: config.http.host, port: config.http.port, handler: createRouter(app, logger), logger });
      if (stopped) await server.closeNow();
      else http = server;
    } catch (error) {
      logger.error({ err: error, host: config.http.host, port: config.http.port }, 'http server could not listen: running without /healthz, /readyz, /metrics and /status');
    }
  }

  async function start(): Promise<void> {
    await startHttp();
    if (stopped) return;
    logger.info(
      {
        redisQueue: describeTarget(config.redis.queue),
        redisCache: describeTarget(config.redis.cache),
        upstream: config.upstream.baseUrl,
        prefix: config.cache.prefix,
        jobs: Object.fromEntries(plans.map((p) => [p.job.name, describeSchedule(p, config.group.timezone)])),
      },
      'starting cache-warmer daemon',
    );
    // Commands on the queue connection wait for Redis, however long it is down.
    const report = await reconcileSchedulers(queue, desired);
    if (stopped) return;
    schedulersRegistered = true;
    logger.info(report, 'schedulers reconciled');
    await warnOnEvictionPolicy(queueConnection, logger);
    await checkFeasibility().catch((error: unknown) => logger.debug({ err: error }, 'feasibility check failed'));
    if (stopped) return;
    worker = newWorker();
    lastActivity = Date.now();
    lastConsumed = lastActivity;
    phase = 'running';
    watchdog.start();
  }

  let closed: Promise<void> | undefined;
  function closeConnections(): Promise<void> {
    closed ??= (async () => {
      await flow.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await Promise.all([closeRedis(queueConnection), closeRedis(workerConnection), runtime.close()]);
    })();
    return closed;
  }

  async function stop(): Promise<void> {
    stopped = true;
    phase = 'stopping';
    // No new connection from here on; requests in flight finish (each is bounded), before Redis closes.
    const httpClosed = http?.close() ?? Promise.resolve();
    watchdog.stop();
    runtime.stopping.abort();
    const closing = worker?.close() ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), config.shutdown.graceMs)));
    if ((await Promise.race([closing.then(() => 'closed' as const), graceOver])) === 'grace') {
      logger.warn({ graceMs: config.shutdown.graceMs }, 'grace period over: abandoning requests in flight');
      runtime.abort.abort();
      // Abandoned requests fail at once; the jobs are handed back to the queue.
      const forced = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      if ((await Promise.race([closing.then(() => 'closed' as const), forced])) !== 'closed') await worker?.close(true);
    }
    clearTimeout(timer);
    await httpClosed;
    await closeConnections();
  }

  async function forceStop(): Promise<void> {
    stopped = true;
    phase = 'stopping';
    const httpClosed = http?.closeNow() ?? Promise.resolve();
    watchdog.stop();
    runtime.stopping.abort();
    runtime.abort.abort();
    await worker?.close(true).catch(() => undefined);
    await httpClosed;
    await closeConnections();
  }

  return { start, stop, forceStop, httpAddress: () => http?.address };
}
