import { parseArgs } from 'node:util';
import { UsageError } from '../shared/errors.js';

export type Command =
  | { kind: 'run'; config?: string }
  | { kind: 'once'; config?: string; jobs: string[] | 'all' }
  | { kind: 'status'; config?: string; json: boolean }
  | { kind: 'help' }
  | { kind: 'version' };

export const USAGE = `Usage:
  cache-warmer [run] [--config FILE]             run the daemon (default)
  cache-warmer --once JOB[,JOB...]|all [--config FILE]
                                                 refresh now, in this process, then exit
  cache-warmer status [--json] [--config FILE]   show the status store
  cache-warmer --help | --version

Exit codes: 0 ok, 1 a refresh or the daemon failed, 2 usage error, 3 invalid configuration.`;

/** Parses argv (without node and script) into one command; throws UsageError with a precise message. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        once: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const name = positionals[0];
  const config = values.config;
  if (config === '') throw new UsageError('--config needs a file path');
  const withConfig = config === undefined ? {} : { config };

  if (values.once !== undefined) {
    if (name !== undefined) throw new UsageError(`--once cannot be combined with the "${name}" command`);
    if (values.json) throw new UsageError('--json applies to status only');
    const list = values.once.split(',').map((s) => s.trim()).filter(Boolean);
    if (list.length === 0) throw new UsageError('--once needs job names or "all"');
    return { kind: 'once', jobs: list.includes('all') ? 'all' : [...new Set(list)], ...withConfig };
  }
  switch (name) {
    case undefined:
    case 'run':
      if (values.json) throw new UsageError('--json applies to status only');
      return { kind: 'run', ...withConfig };
    case 'status':
      return { kind: 'status', json: values.json ?? false, ...withConfig };
    case 'help':
      return { kind: 'help' };
    default:
      throw new UsageError(`unknown command "${name}" (commands: run, status; or --once)`);
  }
}
