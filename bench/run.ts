/**
 * `npm run bench [-- flags]`: the daemon against a plain loop, a rate limit,
 * bare BullMQ's scheduling lag, and its own memory and idle CPU, in one run
 * on loopback (issue 4). See bench/options.ts for the flags.
 *
 * It starts a private redis-server (by PID) and the upstream simulator in
 * this process; the daemon and the plain loop run as child processes. Every
 * process started is stopped by PID at the end, on error and on SIGINT/SIGTERM.
 * The table and `key=value` lines go to stdout and bench/results/latest.txt;
 * progress goes to stderr.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '../test/support/redis-server.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../test/support/simulator/server.js';
import { runPlainLoopProcess } from './baseline.js';
import { measureLag } from './lag.js';
import { parseOptions, USAGE, UsageError, type BenchOptions } from './options.js';
import { Cleanup } from './processes.js';
import { profileBoth } from './profile.js';
import { publish, type BenchResults, type CodeState, type ThroughputSide } from './report.js';
import { ResourceRun, type Idle } from './resources.js';
import { startSimulatorProcess } from './simulator-process.js';
import { median } from './stats.js';
import { assertClean, CLI, runOnceAll, runRateLimited, upstreamOf, V8_HEAP_ENV, type CountedTarget } from './warm-cycle.js';

const RESULTS = fileURLToPath(new URL('../../bench/results/latest.txt', import.meta.url));
const PROFILES = fileURLToPath(new URL('../../bench/results/profiles', import.meta.url));
const TOKEN = 'bench-token';
/** Projects of the profiled cycle (at most). */
const PROFILE_PROJECTS = 500;

const REPO = fileURLToPath(new URL('../../', import.meta.url));

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** Which daemon was measured: HEAD, and whether the working tree differs from it where the daemon lives. */
function codeState(): CodeState {
  const git = (...args: string[]) => execFileSync('git', ['-C', REPO, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirtyFiles = git('status', '--porcelain', '--', 'src', 'jobs', 'config').split('\n').filter(Boolean).length;
    return { commit, dirtyFiles };
  } catch {
    return { commit: 'unknown', dirtyFiles: 0 };
  }
}

async function simulator(cleanup: Cleanup, options: SimulatorOptions): Promise<{ sim: Simulator; close: () => Promise<void> }> {
  const sim = await startSimulator({ token: TOKEN, ...options });
  const close = cleanup.add(`simulator (${options.projects} projects)`, () => sim.close());
  return { sim, close };
}

function side(runs: { keys: number; bytes: number; requests: number; seconds: number; wallSeconds: number; cpuSeconds: number }[]): ThroughputSide {
  const rounds = runs.map((r) => r.keys / r.seconds);
  return {
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    cpuShare: median(runs.map((r) => r.cpuSeconds / r.wallSeconds)),
    keys: median(runs.map((r) => r.keys)),
    bytes: median(runs.map((r) => r.bytes)),
    requests: median(runs.map((r) => r.requests)),
    seconds: median(runs.map((r) => r.seconds)),
    wallSeconds: median(runs.map((r) => r.wallSeconds)),
    keysPerSecond: median(rounds),
    requestsPerSecond: median(runs.map((r) => r.requests / r.seconds)),
    rounds,
  };
}

async function bench(o: BenchOptions, cleanup: Cleanup, interrupted: AbortSignal): Promise<BenchResults> {
  const startedAt = new Date();
  const t0 = performance.now();
  // The build `npm run bench` just made is of the tree as it is now.
  const code = codeState();
  const checkInterrupted = () => {
    if (interrupted.aborted) throw new Error('interrupted');
  };
  const tmpDir = mkdtempSync(join(tmpdir(), 'cw-bench-'));
  cleanup.add('temp dir', async () => rmSync(tmpDir, { recursive: true, force: true }));

  progress('starting a private redis-server');
  const redis = await startRedisServer();
  cleanup.trackPid(redis.pid);
  cleanup.add('redis-server', async () => {
    await redis.stop();
    cleanup.untrackPid(redis.pid);
  });
  progress(`starting the simulator: ${o.projects} projects, ${o.latencyMs} ms latency`);
  const main = await simulator(cleanup, { projects: o.projects, latencyMs: o.latencyMs });
  const target: CountedTarget = { sim: main.sim, upstream: upstreamOf(main.sim), redisUrl: redis.url, prefix: 'bench-daemon', concurrency: o.concurrency, nodeOptions: o.daemonNodeOptions };
  // Generous bounds: a cycle that takes this long is broken, not slow.
  const cycleTimeoutMs = 60_000 + o.projects * 100;

  // 1 + 2. Plain loop and daemon, alternating (the order turns each round so that drift cancels);
  // with the heap phase, also the daemon with V8's own heap settings, for what the lean ones cost.
  const plainRuns: Parameters<typeof side>[0] = [];
  const daemonRuns: Parameters<typeof side>[0] = [];
  const v8HeapRuns: Parameters<typeof side>[0] = [];
  const doHeap = !o.skip.has('heap');
  const sides = doHeap ? (['plain', 'daemon', 'v8-heap'] as const) : (['plain', 'daemon'] as const);
  for (let round = 0; round < o.rounds; round += 1) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
    for (const which of order) {
      checkInterrupted();
      if (which === 'plain') {
        main.sim.resetRequests();
        const r = await runPlainLoopProcess(
          { baseUrl: main.sim.url, token: TOKEN, groupId: main.sim.options.groupId, redisUrl: redis.url, prefix: 'bench-plain', concurrency: o.concurrency },
          cleanup,
          cycleTimeoutMs,
        );
        const requests = main.sim.count();
        main.sim.resetRequests();
        plainRuns.push({ ...r, requests });
        progress(`round ${round + 1}/${o.rounds} plain loop: ${r.keys} keys, ${requests} requests in ${r.seconds.toFixed(2)} s → ${(r.keys / r.seconds).toFixed(0)} keys/s`);
      } else {
        const v8Heap = which === 'v8-heap';
        const r = await runOnceAll(target, { timeoutMs: cycleTimeoutMs, cleanup, ...(v8Heap ? { extraEnv: V8_HEAP_ENV } : {}) });
        assertClean(r, `round ${round + 1}`);
        (v8Heap ? v8HeapRuns : daemonRuns).push(r);
        progress(
          `round ${round + 1}/${o.rounds} daemon --once all${v8Heap ? " (V8's own heap settings)" : ''}: ${r.keys} keys, ${r.requests} requests in ${r.seconds.toFixed(2)} s ` +
            `(${r.wallSeconds.toFixed(2)} s from outside) → ${(r.keys / r.seconds).toFixed(0)} keys/s`,
        );
      }
    }
  }
  const baseline = side(plainRuns);
  const daemonSide = side(daemonRuns);
  const daemon = { ...daemonSide, keysPerSecondWithStartup: median(daemonRuns.map((r) => r.keys / r.wallSeconds)) };
  const daemonV8Heap = v8HeapRuns.length ? side(v8HeapRuns) : undefined;
  const ratio = daemon.keysPerSecond / baseline.keysPerSecond;
  progress(`ratio_vs_plain_loop=${ratio.toFixed(3)}`);

  let profile: BenchResults['profile'];
  if (o.profile === 'always' || (o.profile === 'auto' && ratio < 0.8)) {
    checkInterrupted();
    // The shares of a smaller cycle are those of the full one; it takes seconds, not a round.
    const projects = Math.min(o.projects, PROFILE_PROJECTS);
    progress(`profiling --once all and the plain loop over ${projects} projects with node --cpu-prof (${o.profile === 'always' ? 'asked' : 'ratio under 0.8'})`);
    const small = await simulator(cleanup, { projects, latencyMs: o.latencyMs });
    profile = await profileBoth(
      { sim: small.sim, upstream: upstreamOf(small.sim), redisUrl: redis.url, prefix: 'bench-profile', concurrency: o.concurrency, nodeOptions: o.daemonNodeOptions },
      PROFILES,
      cycleTimeoutMs,
      cleanup,
    );
    await small.close();
  }

  // 3. The same warm cycle under an upstream rate limit; 4. scheduling lag, the daemon's
  // every-1 s job beside a bare BullMQ scheduler; 5. memory with many projects, then CPU while idle.
  // By default (to stay near 6 minutes on 2 cores) the memory run's warm-up runs alone (it is
  // CPU-bound), and its idle window spans the rate-limited cycle and the lag phase run beside
  // each other: the idle figure counts the idle daemon's own PID only, the limited cycle needs
  // about a third of a core, both lag processes need almost none, and the lag phase has a
  // redis-server of its own (see lag.ts). --serial runs one phase at a time.
  const doRate = !o.skip.has('rate');
  const doResources = !o.skip.has('resources');
  const doLag = !o.skip.has('lag');
  const rateLimited = async () => {
    checkInterrupted();
    progress(`rate limit ${o.rate}/s: ideal about ${(daemon.requests / o.rate).toFixed(0)} s`);
    const outcome = await runRateLimited(target, o.rate, daemon.requests, cleanup);
    progress(outcome.supported ? `rate limit: ${outcome.seconds.toFixed(2)} s against an ideal ${outcome.idealSeconds.toFixed(2)} s` : `rate limit unsupported: ${outcome.reason}`);
    return outcome;
  };
  const lagPhase = async () => {
    checkInterrupted();
    progress(`scheduling lag over ${o.lagSeconds} s`);
    const small = await simulator(cleanup, { projects: 5, latencyMs: o.latencyMs });
    const result = await measureLag({ upstream: upstreamOf(small.sim), concurrency: o.concurrency, nodeOptions: o.daemonNodeOptions, seconds: o.lagSeconds, tmpDir, cleanup, signal: interrupted });
    await small.close();
    progress(`lag p99: daemon ${result.daemon.p99} ms, bare ${result.bare.p99} ms`);
    return result;
  };
  const both = async (): Promise<[BenchResults['rate'], BenchResults['lag']]> => {
    if (o.serial) return [doRate ? await rateLimited() : undefined, doLag ? await lagPhase() : undefined];
    return Promise.all([doRate ? rateLimited() : undefined, doLag ? lagPhase() : undefined]);
  };

  let rate: BenchResults['rate'];
  let lag: BenchResults['lag'];
  let resources: BenchResults['resources'];
  let resourcesV8Heap: BenchResults['resourcesV8Heap'];
  if (!doResources) {
    [rate, lag] = await both();
  } else {
    if (o.serial) rate = doRate ? await rateLimited() : undefined;
    checkInterrupted();
    progress(`memory: generating ${o.bigProjects} projects (simulator process), then cache-warmer run warms them`);
    const bigSim = await startSimulatorProcess({ projects: o.bigProjects, latencyMs: o.latencyMs, token: TOKEN, cleanup });
    const big = new ResourceRun({ upstream: bigSim, settleMs: o.quick ? 1_000 : 5_000, projects: o.bigProjects, redisUrl: redis.url, concurrency: o.concurrency, nodeOptions: o.daemonNodeOptions, tmpDir, cleanup, signal: interrupted });
    const warm = await big.warmUp(60_000 + o.bigProjects * 100);
    progress(`memory: warm-up of ${o.bigProjects} projects took ${warm.seconds.toFixed(1)} s (${warm.keys} keys, max RSS so far ${big.rssMaxMb().toFixed(0)} MB)`);
    const alongside: string[] = [];
    let idle: Idle;
    if (o.serial) {
      progress(`memory: idle CPU over ${o.idleSeconds} s`);
      idle = (await big.idle(o.idleSeconds)).idle;
      lag = doLag ? await lagPhase() : undefined;
    } else {
      if (doRate || doLag) progress(`memory: idle CPU measured while the ${[doRate && 'rate-limited cycle', doLag && 'lag phase'].filter(Boolean).join(' and the ')} run`);
      const measured = await big.idle(o.idleSeconds, doRate || doLag ? both : undefined);
      idle = measured.idle;
      [rate, lag] = measured.value ?? [undefined, undefined];
      if (doRate) alongside.push('rate-limited cycle');
      if (doLag) alongside.push('lag phase');
    }
    const memory = await big.stop();
    let v8Heap: BenchResults['resourcesV8Heap'];
    if (doHeap) {
      // The same warm-up with V8's own heap settings, on an empty cache of its own prefix.
      checkInterrupted();
      progress(`memory: the same warm-up with V8's own heap settings (${Object.entries(V8_HEAP_ENV).map(([k, v]) => `${k}=${v}`).join(' ')})`);
      const again = new ResourceRun({ upstream: bigSim, projects: o.bigProjects, redisUrl: redis.url, concurrency: o.concurrency, nodeOptions: o.daemonNodeOptions, extraEnv: V8_HEAP_ENV, prefix: 'bench-big-v8', tmpDir, cleanup, signal: interrupted });
      const warmAgain = await again.warmUp(60_000 + o.bigProjects * 100);
      const stopped = await again.stop();
      v8Heap = { rssMaxMb: stopped.rssMaxMb, warmSeconds: warmAgain.seconds, warmKeys: warmAgain.keys };
      progress(`memory, V8's own heap settings: warm-up ${warmAgain.seconds.toFixed(1)} s, max RSS ${stopped.rssMaxMb.toFixed(0)} MB`);
    }
    resourcesV8Heap = v8Heap;
    await bigSim.stop();
    resources = {
      projects: o.bigProjects,
      ...memory,
      warmSeconds: warm.seconds,
      warmKeys: warm.keys,
      idleCpuPct: idle.cpuPct,
      idleSeconds: idle.seconds,
      idleDisturbed: idle.disturbed,
      rssIdleStartMb: idle.rssStartMb,
      alongside,
    };
  }
  await main.close();
  checkInterrupted();
  return { options: o, code, startedAt, totalSeconds: (performance.now() - t0) / 1000, baseline, daemon, daemonV8Heap, rate, lag, resources, resourcesV8Heap, profile };
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!existsSync(CLI)) {
    process.stderr.write(`bench: ${CLI} is missing: run "npm run bench" (it builds first)\n`);
    return 1;
  }
  const cleanup = new Cleanup();
  const interrupted = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // A second signal: stop at once, still by PID.
      cleanup.killRemainingSync();
      process.exit(130);
    }
    progress(`${signal}: stopping everything the benchmark started`);
    interrupted.abort();
    void cleanup.runAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => cleanup.killRemainingSync());
  try {
    const results = await bench(options, cleanup, interrupted.signal);
    await cleanup.runAll();
    publish(results, RESULTS);
    progress(`written to ${RESULTS}`);
    return 0;
  } catch (error) {
    if (interrupted.signal.aborted) return 130;
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    await cleanup.runAll();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
