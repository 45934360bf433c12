/**
 * The daemon's resources with many projects: `cache-warmer run` (every
 * cadence 12 h) against a simulator with `--big-projects` projects. Every job
 * runs once at start (BullMQ's first `every` iteration is immediate): the
 * resident memory is sampled from /proc/PID/status every 100 ms through that
 * warm-up and after it (plus the kernel's VmHWM peak); then, with nothing due
 * for hours, its CPU time from /proc/PID/stat (utime + stime) over the idle
 * window gives its use of one core while idle between ticks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clockTicksPerSecond, readCpuTicks, readMemory } from './proc.js';
import { sleep, spawnNode, type Cleanup, type LogLine, type NodeProcess } from './processes.js';
import { CLI, daemonEnv, type UpstreamTarget } from './warm-cycle.js';

export interface ResourceOptions {
  upstream: UpstreamTarget;
  /** Wait after the warm-up before the idle window opens. @defaultValue 5000 */
  settleMs?: number;
  projects: number;
  redisUrl: string;
  concurrency: number;
  nodeOptions?: string;
  /** More environment for the daemon (V8_HEAP_ENV for the comparison run). */
  extraEnv?: Record<string, string>;
  /** Its cache prefix. @defaultValue 'bench-big' */
  prefix?: string;
  tmpDir: string;
  cleanup: Cleanup;
  signal: AbortSignal;
}

export interface WarmUp {
  seconds: number;
  keys: number;
}

export interface Idle {
  cpuPct: number;
  seconds: number;
  /** A refresh ran during the idle window: the CPU figure is not idle. */
  disturbed: boolean;
  /** VmRSS when the window opened. */
  rssStartMb: number;
}

export interface ResourceResult {
  projects: number;
  /** Largest VmRSS sampled, or the kernel's VmHWM when larger. */
  rssMaxMb: number;
  /** VmRSS when the idle window opened (after the settle time) and when the daemon was stopped. */
  rssIdleStartMb: number;
  rssIdleMb: number;
  warmSeconds: number;
  warmKeys: number;
  idleCpuPct: number;
  idleSeconds: number;
  idleDisturbed: boolean;
  /** What ran beside the idle daemon during its idle window (other processes). */
  alongside: string[];
}

const JOBS = ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics'];
const SAMPLE_EVERY_MS = 100;
/** After the warm-up, time for the last writes and the GCs that follow before the idle window opens. */
const SETTLE_MS = 5_000;

const isRefreshEnd = (l: LogLine) => l.msg === 'refresh done' || l.msg === 'refresh failed';

/** The started daemon: warm-up, idle window and stop, in that order. */
export class ResourceRun {
  private readonly daemon: NodeProcess;
  private readonly sampler: NodeJS.Timeout;
  private readonly stopSampler: () => Promise<void>;
  private readonly started = performance.now();
  private rssMaxKb = 0;

  constructor(private readonly o: ResourceOptions) {
    const configFile = join(o.tmpDir, 'resources-config.json');
    // Long cadences: after the first run of each job nothing is due for hours.
    const cadence = { every: '12h' };
    writeFileSync(configFile, JSON.stringify({ jobs: Object.fromEntries(JOBS.map((job) => [job, job === 'daily-stats' ? { ...cadence, alsoAt: false } : cadence])) }));
    this.daemon = spawnNode({
      script: CLI,
      args: ['run', '--config', configFile],
      env: daemonEnv({ upstream: o.upstream, redisUrl: o.redisUrl, prefix: o.prefix ?? 'bench-big', concurrency: o.concurrency, nodeOptions: o.nodeOptions }, o.extraEnv),
      cleanup: o.cleanup,
      name: 'cache-warmer run (resources)',
    });
    const pid = this.daemon.pid;
    this.sampler = setInterval(() => {
      const memory = readMemory(pid);
      if (memory && Number.isFinite(memory.rssKb)) this.rssMaxKb = Math.max(this.rssMaxKb, memory.rssKb);
    }, SAMPLE_EVERY_MS);
    this.stopSampler = o.cleanup.add('rss sampler', async () => clearInterval(this.sampler));
  }

  /** Resolves once every job has run once; bounded by `timeoutMs` in all. */
  async warmUp(timeoutMs: number): Promise<WarmUp> {
    const ended = new Set<string>();
    for (let i = 0; i < JOBS.length && ended.size < JOBS.length; i += 1) {
      const left = timeoutMs - (performance.now() - this.started);
      await this.daemon.waitForLog((l) => isRefreshEnd(l) && typeof l.job === 'string' && !ended.has(l.job), Math.max(1, left));
      for (const l of this.daemon.logs) if (isRefreshEnd(l) && typeof l.job === 'string') ended.add(l.job);
    }
    const seconds = (performance.now() - this.started) / 1000;
    const failed = this.daemon.logs.filter((l) => l.msg === 'refresh failed').map((l) => l.job);
    if (failed.length) throw new Error(`resources: warm-up refresh failed (${failed.join(', ')}):\n${this.daemon.tail().slice(-3000)}`);
    const keys = this.daemon.logs.filter((l) => l.msg === 'refresh done').reduce((n, l) => n + Number(l.keys ?? 0), 0);
    return { seconds, keys };
  }

  /**
   * CPU use over an idle window of at least `minSeconds`, spanning `alongside`
   * (another phase run meanwhile; the count is of this daemon's PID only).
   */
  async idle<T>(minSeconds: number, alongside?: () => Promise<T>): Promise<{ idle: Idle; value: T | undefined }> {
    await sleep(this.o.settleMs ?? SETTLE_MS, this.o.signal);
    const linesBefore = this.daemon.logs.length;
    const rssStartMb = (readMemory(this.daemon.pid)?.rssKb ?? Number.NaN) / 1024;
    const hz = clockTicksPerSecond();
    const t0 = performance.now();
    const ticks0 = this.ticks();
    const value = alongside ? await alongside() : undefined;
    const left = minSeconds * 1000 - (performance.now() - t0);
    if (left > 0) await sleep(left, this.o.signal);
    const ticks1 = this.ticks();
    const seconds = (performance.now() - t0) / 1000;
    const disturbed = this.daemon.logs.slice(linesBefore).some((l) => typeof l.msg === 'string' && l.msg.startsWith('refresh'));
    return { idle: { cpuPct: ((ticks1 - ticks0) / hz / seconds) * 100, seconds, disturbed, rssStartMb }, value };
  }

  private ticks(): number {
    const ticks = readCpuTicks(this.daemon.pid);
    if (ticks === undefined) throw new Error(`resources: the daemon exited while idle:\n${this.daemon.tail().slice(-3000)}`);
    return ticks;
  }

  /** The largest resident size seen so far. */
  rssMaxMb(): number {
    return this.rssMaxKb / 1024;
  }

  /** Stops the daemon (SIGTERM, by PID) and returns its memory figures. */
  async stop(): Promise<{ rssMaxMb: number; rssIdleMb: number }> {
    const memory = readMemory(this.daemon.pid);
    this.rssMaxKb = Math.max(this.rssMaxKb, memory?.hwmKb ?? 0, memory?.rssKb ?? 0);
    await this.stopSampler();
    const code = await this.daemon.stop(15_000);
    if (code !== 0) throw new Error(`cache-warmer run (resources) exited ${code} on SIGTERM:\n${this.daemon.tail().slice(-3000)}`);
    return { rssMaxMb: this.rssMaxKb / 1024, rssIdleMb: (memory?.rssKb ?? Number.NaN) / 1024 };
  }
}
