/**
 * Where the daemon's warm cycle spends its CPU, against the plain loop doing
 * the same work: each run once more under `node --cpu-prof`, summarised by
 * self time per area (a package in node_modules, a folder of src/, node's
 * internals, GC) and per function. The difference per area is what the
 * daemon adds.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runPlainLoopProcess } from './baseline.js';
import { assertClean, runOnceAll, type CountedTarget } from './warm-cycle.js';
import type { Cleanup } from './processes.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  /** Share of the busy time (idle left out). */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  byArea: ProfileEntry[];
  byFunction: ProfileEntry[];
}

/** The area a frame belongs to: a package, a folder of the daemon, node internals, or V8 itself. */
export function areaOf(frame: CpuProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'V8 garbage collector';
    if (functionName === '(idle)') return '(idle)';
    return `V8 ${functionName || '(anonymous)'}`;
  }
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  if (/\/dist\/bench\//.test(url)) return 'plain loop (bench/baseline)';
  const own = /\/dist\/((?:src\/[^/]+|jobs|config)(?:\/|\.js))/.exec(url)?.[1];
  if (own) return `cache-warmer ${own.replace(/\/$/, '').replace(/\.js$/, '')}`;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url)?.[1];
  if (internal) return `node:${internal.replace(/\.js$/, '')}`;
  return 'other';
}

export function summarizeProfile(profile: CpuProfile, file: string, top = 12): ProfileSummary & { areas: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i: attribute the next delta to the sample, the usual reading.
  for (let i = 0; i < profile.samples.length; i += 1) {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + Math.max(0, delta));
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const area = areaOf(frame);
    if (area === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const entries = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, pct: busyUs ? (100 * us) / busyUs : 0 }));
  return {
    file,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    byArea: entries(areas),
    byFunction: entries(functions),
    areas: new Map([...areas].map(([area, us]) => [area, us / 1000])),
  };
}

export interface AreaComparison {
  area: string;
  plainMs: number;
  daemonMs: number;
}

export interface ProfileComparison {
  projects: number;
  requests: number;
  daemon: ProfileSummary;
  plain: ProfileSummary;
  /** Areas by what the daemon spends more than the plain loop, largest first. */
  areas: AreaComparison[];
}

function readProfile(dir: string): ProfileSummary & { areas: Map<string, number> } {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`profile: node wrote no .cpuprofile into ${dir}`);
  const path = join(dir, file);
  return summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, path);
}

/** The daemon's `--once all` and the plain loop, each under --cpu-prof; profiles kept in `dir` (bench/results/profiles). */
export async function profileBoth(target: CountedTarget, dir: string, timeoutMs: number, cleanup: Cleanup): Promise<ProfileComparison> {
  rmSync(dir, { recursive: true, force: true });
  const daemonDir = join(dir, 'daemon');
  const plainDir = join(dir, 'plain-loop');
  mkdirSync(daemonDir, { recursive: true });
  mkdirSync(plainDir, { recursive: true });
  const once = await runOnceAll(target, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${daemonDir}`], timeoutMs, cleanup });
  assertClean(once, 'profiled warm cycle');
  await runPlainLoopProcess(
    { baseUrl: target.upstream.url, token: target.upstream.token, groupId: target.upstream.groupId, redisUrl: target.redisUrl, prefix: `${target.prefix}-plain`, concurrency: target.concurrency },
    cleanup,
    timeoutMs,
    ['--cpu-prof', `--cpu-prof-dir=${plainDir}`],
  );
  const daemon = readProfile(daemonDir);
  const plain = readProfile(plainDir);
  const names = new Set([...daemon.areas.keys(), ...plain.areas.keys()]);
  const areas = [...names]
    .map((area) => ({ area, plainMs: plain.areas.get(area) ?? 0, daemonMs: daemon.areas.get(area) ?? 0 }))
    .sort((a, b) => b.daemonMs - b.plainMs - (a.daemonMs - a.plainMs));
  const strip = ({ areas: _areas, ...summary }: ProfileSummary & { areas: Map<string, number> }): ProfileSummary => summary;
  return { projects: target.sim.options.projects, requests: once.requests, daemon: strip(daemon), plain: strip(plain), areas };
}
