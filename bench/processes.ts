/**
 * Everything the benchmark starts is registered here and stopped by PID: on
 * success, on error and on SIGINT/SIGTERM. Child node processes (the daemon,
 * the plain loop) are spawned with their JSON log lines parsed as they come.
 */
import { spawn } from 'node:child_process';

export interface LogLine {
  level?: number;
  time?: number;
  msg?: string;
  [field: string]: unknown;
}

/** Stops what the benchmark started, newest first. */
export class Cleanup {
  private steps: { name: string; run: () => Promise<void> }[] = [];
  private readonly pids = new Set<number>();

  /** Registers a stop step; the returned function runs it now (once) and unregisters it. */
  add(name: string, run: () => Promise<void>): () => Promise<void> {
    let done: Promise<void> | undefined;
    const step = {
      name,
      run: () => {
        done ??= run();
        return done;
      },
    };
    this.steps.push(step);
    return async () => {
      this.steps = this.steps.filter((s) => s !== step);
      await step.run();
    };
  }

  trackPid(pid: number): void {
    this.pids.add(pid);
  }

  untrackPid(pid: number): void {
    this.pids.delete(pid);
  }

  /** Runs every registered step, newest first; one that hangs is given up after 20 s. */
  async runAll(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, 20_000)));
      try {
        await Promise.race([step.run(), giveUp]);
      } catch (error) {
        process.stderr.write(`bench: stopping ${step.name} failed: ${(error as Error).message}\n`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.killRemainingSync();
  }

  /** Last resort (process 'exit'): SIGKILL by PID whatever child is still tracked. */
  killRemainingSync(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
  }
}

export interface NodeProcess {
  pid: number;
  /** Parsed JSON lines of stdout (the most recent MAX_LOG_LINES). */
  logs: LogLine[];
  /** The last 64 KB of stdout and stderr. */
  tail(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The first line matching, waiting at most `timeoutMs`; rejects on timeout or when the process exits first. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** SIGTERM by PID, SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

const MAX_LOG_LINES = 50_000;
const MAX_TAIL_CHARS = 64 * 1024;

export interface SpawnOptions {
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Flags for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  cleanup: Cleanup;
  name: string;
}

/** Spawns `node [nodeArgs] script [args]` with only PATH and `env` in its environment. */
export function spawnNode(options: SpawnOptions): NodeProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`bench: could not spawn ${options.name}`);
  const pid = child.pid;
  options.cleanup.trackPid(pid);
  const logs: LogLine[] = [];
  let tail = '';
  let pending = '';
  let exitedFlag = false;
  const waiters = new Set<() => void>();
  const keepTail = (text: string) => {
    tail += text;
    if (tail.length > MAX_TAIL_CHARS) tail = tail.slice(-MAX_TAIL_CHARS);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    keepTail(text);
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }
    if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => keepTail(chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitedFlag = true;
      options.cleanup.untrackPid(pid);
      for (const wake of waiters) wake();
      resolve(code);
    }),
  );

  const stop = async (graceMs = 15_000): Promise<number | null> => {
    if (!exitedFlag) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // exited meanwhile
      }
      const timer = setTimeout(() => {
        if (!exitedFlag) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // exited meanwhile
          }
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  const unregister = options.cleanup.add(options.name, async () => {
    await stop();
  });
  void exited.then(() => unregister());

  return {
    pid,
    logs,
    tail: () => tail,
    exited,
    hasExited: () => exitedFlag,
    stop,
    waitForLog(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${options.name}: no matching log line within ${timeoutMs} ms; output:\n${tail.slice(-3000)}`));
        }, timeoutMs);
        function check(): void {
          const found = logs.find(predicate);
          if (found) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(found);
          } else if (exitedFlag) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`${options.name} exited before the expected log line; output:\n${tail.slice(-3000)}`));
          }
        }
        waiters.add(check);
        check();
      });
    },
  };
}

/** Waits for the process to exit, at most `timeoutMs`; then stops it and throws. */
export async function waitForExit(child: NodeProcess, timeoutMs: number, name: string): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const result = await Promise.race([child.exited, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') {
    await child.stop(5_000);
    throw new Error(`${name} did not finish within ${Math.round(timeoutMs / 1000)} s; output:\n${child.tail().slice(-3000)}`);
  }
  return result;
}

/** A sleep that ends early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
