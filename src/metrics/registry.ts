import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobStatus, RunRecord, StatusObserver } from '../status/store.js';
import type { UpstreamObserver } from '../upstream/client.js';
import { withDeadline } from './deadline.js';

/** Prefix of every metric of ours; the default process metrics keep their standard names. */
export const METRIC_PREFIX = 'cache_warmer_';

/** The queue states reported: BullMQ keeps prioritized jobs apart from waiting ones. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Refresh durations run from ~100 ms (a group job) to minutes (thousands of projects). */
const DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface MetricsSources {
  /** Every configured job: their series exist (at zero) from the first scrape, so rate() sees the first run. */
  jobs: readonly string[];
  /** The status store's view of the jobs (last success, data age); read at scrape time. */
  readStatus(): Promise<JobStatus[]>;
  /** Job counts by state; read at scrape time. */
  queueCounts(): Promise<Partial<Record<QueueState, number>>>;
  /** How long a scrape waits for Redis before leaving those series out. @defaultValue 1000 */
  scrapeTimeoutMs?: number;
  /** Reports a collect that failed or timed out (once per scrape and source). */
  onCollectError?(source: 'status' | 'queue', error: unknown): void;
}

export interface Metrics {
  /** Our own registry (never prom-client's global one): two daemons in one process do not mix. */
  readonly registry: Registry;
  /** Feeds the refresh metrics: hand it to the StatusStore. */
  readonly status: StatusObserver;
  /** Feeds the request and token metrics: hand it to createUpstream. */
  readonly upstream: UpstreamObserver;
  /** The Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * The daemon's metrics. Counters and the histogram count what this process
 * did; the gauges read shared state at scrape time (the status store and the
 * queue are the fleet's), so every replica reports the same values there.
 */
export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const timeoutMs = sources.scrapeTimeoutMs ?? 1_000;
  collectDefaultMetrics({ register: registry });

  const refreshes = new Counter({
    name: `${METRIC_PREFIX}refreshes_total`,
    help: 'Refreshes recorded by this process, by job and result (ok, failed, or throttled: backed off and retried, not a failure).',
    labelNames: ['job', 'result'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}refresh_duration_seconds`,
    help: 'Duration of the refreshes recorded by this process (ok and failed), by job.',
    labelNames: ['job'] as const,
    buckets: DURATION_BUCKETS_S,
    registers,
  });
  const keysWritten = new Counter({
    name: `${METRIC_PREFIX}keys_written_total`,
    help: 'Keys written by the refreshes recorded by this process, by job.',
    labelNames: ['job'] as const,
    registers,
  });
  const requests = new Counter({
    name: `${METRIC_PREFIX}upstream_requests_total`,
    help: 'HTTP attempts to the upstream (each retry counts), by route template and status code (or timeout, reset, network, aborted when no response came).',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  let token: { seconds: number; at: number } | undefined;
  new Gauge({
    name: `${METRIC_PREFIX}upstream_token_expires_in_seconds`,
    help: "The upstream token's remaining lifetime: the last x-expire-in header, counted down since; NaN before the first answer.",
    registers,
    collect() {
      this.set(token === undefined ? Number.NaN : token.seconds - (Date.now() - token.at) / 1000);
    },
  });

  // One status read per scrape, shared by the two gauges that need it.
  let statusRead: Promise<JobStatus[] | undefined> | undefined;
  const readStatusOnce = () => {
    statusRead ??= withDeadline(sources.readStatus(), timeoutMs, 'status store')
      .catch((error: unknown) => {
        sources.onCollectError?.('status', error);
        return undefined;
      })
      .finally(() => setImmediate(() => (statusRead = undefined)));
    return statusRead;
  };
  new Gauge({
    name: `${METRIC_PREFIX}last_success_timestamp_seconds`,
    help: 'When the last successful refresh of the job ended (any replica), in Unix seconds; absent before one.',
    labelNames: ['job'] as const,
    registers,
    async collect() {
      const statuses = await readStatusOnce();
      this.reset();
      for (const s of statuses ?? []) if (s.lastSuccessAt) this.set({ job: s.name }, Date.parse(s.lastSuccessAt) / 1000);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}data_age_seconds`,
    help: "Age bound of the job's oldest key: seconds since the start of its last refresh with no failed item (any replica); absent before one.",
    labelNames: ['job'] as const,
    registers,
    async collect() {
      const statuses = await readStatusOnce();
      this.reset();
      for (const s of statuses ?? []) if (s.dataAgeSeconds !== null) this.set({ job: s.name }, s.dataAgeSeconds);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'Jobs in the BullMQ queue by state; absent when Redis did not answer in time.',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      this.reset();
      try {
        const counts = await withDeadline(sources.queueCounts(), timeoutMs, 'queue counts');
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      } catch (error) {
        sources.onCollectError?.('queue', error);
      }
    },
  });

  for (const job of sources.jobs) {
    for (const result of ['ok', 'failed', 'throttled']) refreshes.labels({ job, result }).inc(0);
    keysWritten.labels({ job }).inc(0);
    duration.zero({ job });
  }

  const status: StatusObserver = {
    recorded(run: RunRecord) {
      refreshes.inc({ job: run.job, result: run.ok ? 'ok' : 'failed' });
      duration.observe({ job: run.job }, run.durationMs / 1000);
      keysWritten.inc({ job: run.job }, run.keysWritten);
    },
    throttled(job: string) {
      refreshes.inc({ job, result: 'throttled' });
    },
  };
  const upstream: UpstreamObserver = {
    attempt(route, code) {
      requests.inc({ route, status: code });
    },
    tokenExpiresIn(seconds) {
      token = { seconds, at: Date.now() };
    },
  };

  return {
    registry,
    status,
    upstream,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
