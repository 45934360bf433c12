/** Readings of a process from /proc (Linux): resident memory and CPU time. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** `VmRSS` and `VmHWM` (the kernel's peak) of a process, in kB; undefined once it has exited. */
export function readMemory(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, in clock ticks; undefined once it has exited. */
export function readCpuTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

let hz: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, almost always 100). */
export function clockTicksPerSecond(): number {
  if (hz === undefined) {
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      hz = 100;
    }
  }
  return hz;
}

/**
 * CPU seconds a child process used, read every `everyMs` until it exits: the
 * last reading before exit (so at most `everyMs` of CPU time is missed).
 */
export function trackCpu(pid: number, everyMs = 50): { seconds(): number; stop(): void } {
  let last = 0;
  const read = () => {
    const ticks = readCpuTicks(pid);
    if (ticks !== undefined) last = ticks;
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    seconds: () => last / clockTicksPerSecond(),
    stop: () => clearInterval(timer),
  };
}
