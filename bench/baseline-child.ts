/**
 * Child entry of the plain loop: `node dist/bench/baseline-child.js '<PlainLoopOptions JSON>'`.
 * Prints one JSON line `{"msg":"plain loop finished","result":{…}}` and exits 0,
 * or writes the error to stderr and exits 1.
 */
import { plainLoop, type PlainLoopOptions } from './baseline.js';

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: baseline-child.js <options JSON>');
  const result = await plainLoop(JSON.parse(raw) as PlainLoopOptions);
  process.stdout.write(`${JSON.stringify({ msg: 'plain loop finished', result })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`plain loop: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
