/**
 * Runs the upstream simulator as a process, for the demo and the benchmark:
 *
 *   node dist/test/support/simulator/cli.js --port 0 --projects 50 --token T --group-id G [--latency-ms N] [--host 127.0.0.1] [--seed N]
 *
 * Prints one JSON line `{"url":…,"port":…,"groupId":…,"projects":…}` once listening, so a parent
 * process can read the chosen port; closes cleanly (exit 0) on SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { startSimulator, type SimulatorOptions } from './server.js';

const USAGE =
  'usage: simulator --port 0 --projects 50 --token T --group-id G [--latency-ms N] [--host 127.0.0.1] [--seed N]';

/** A non-negative integer flag; the message names the flag and the bad value. */
function integerFlag(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new RangeError(`simulator: --${name} "${raw}" is not a non-negative integer`);
  return Number(raw);
}

function parseOptions(argv: string[]): SimulatorOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true, // unknown flags fail loudly rather than being ignored
    options: {
      port: { type: 'string' },
      projects: { type: 'string' },
      token: { type: 'string' },
      'group-id': { type: 'string' },
      'latency-ms': { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const groupId = values['group-id'] ?? '15555411412112';
  if (!/^\d+$/.test(groupId)) throw new RangeError(`simulator: --group-id "${groupId}" is not a decimal id`);
  return {
    port: integerFlag('port', values.port, 0),
    projects: integerFlag('projects', values.projects, 50),
    token: values.token ?? 'demo-token-0000',
    groupId,
    latencyMs: integerFlag('latency-ms', values['latency-ms'], 0),
    host: values.host ?? '127.0.0.1',
    seed: integerFlag('seed', values.seed, 1),
  };
}

async function main(): Promise<void> {
  let options: SimulatorOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const sim = await startSimulator(options);
  process.stdout.write(
    `${JSON.stringify({ url: sim.url, port: sim.port, groupId: sim.options.groupId, projects: sim.options.projects })}\n`,
  );
  const stop = (): void => {
    // close() destroys open sockets, so nothing keeps the event loop alive and the process exits 0
    // by itself; no process.exit() that could cut the stdout line short.
    sim.close().catch((error: unknown) => {
      process.stderr.write(`simulator: close failed: ${String(error)}\n`);
      process.exitCode = 1;
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`simulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
