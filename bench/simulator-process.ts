/**
 * The simulator as its own process (test/support/simulator/cli.ts), stopped
 * by PID. Used for the 10,000-project memory run, so that serving it does not
 * load the event loop of the in-process simulator that another phase is
 * measuring against at the same time.
 */
import { fileURLToPath } from 'node:url';
import { spawnNode, type Cleanup } from './processes.js';
import type { UpstreamTarget } from './warm-cycle.js';

const SIMULATOR_CLI = fileURLToPath(new URL('../test/support/simulator/cli.js', import.meta.url));

export interface SimulatorProcess extends UpstreamTarget {
  projects: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startSimulatorProcess(o: { projects: number; latencyMs: number; token: string; cleanup: Cleanup }): Promise<SimulatorProcess> {
  const child = spawnNode({
    script: SIMULATOR_CLI,
    args: ['--port', '0', '--host', '127.0.0.1', '--projects', String(o.projects), '--latency-ms', String(o.latencyMs), '--token', o.token],
    env: {},
    cleanup: o.cleanup,
    name: `simulator process (${o.projects} projects)`,
  });
  // Generating 10,000 projects takes a few seconds.
  const ready = await child.waitForLog((l) => typeof l.url === 'string', 60_000);
  return {
    url: String(ready.url),
    token: o.token,
    groupId: String(ready.groupId),
    projects: Number(ready.projects),
    pid: child.pid,
    stop: async () => {
      await child.stop(5_000);
    },
  };
}
