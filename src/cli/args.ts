import { parseArgs } from 'node:util';
import { UsageError } from '../shared/errors.js';
import { isIdString } from '../shared/ids.js';

/** What `keys` and `clear` work on: a glob relative to the key prefix, or every key of one project. */
export type KeyTarget = { pattern: string } | { project: string };

export type Command =
  | { kind: 'run'; config?: string }
  | { kind: 'once'; config?: string; jobs: string[] | 'all' }
  | { kind: 'status'; config?: string; json: boolean }
  | { kind: 'keys'; config?: string; json: boolean; target: KeyTarget; limit: number }
  | { kind: 'clear'; config?: string; json: boolean; target: KeyTarget; yes: boolean }
  | { kind: 'doctor'; config?: string; json: boolean }
  | { kind: 'help' }
  | { kind: 'version' };

/** Keys `keys` lists when no --limit is given: a screenful or two, enough to see what is there. */
export const DEFAULT_KEYS_LIMIT = 100;
/** Largest --limit: the listing reads every value it shows. */
export const MAX_KEYS_LIMIT = 100_000;
/** Longest PATTERN: keys are short; a longer glob is a mistake (or an attempt to make SCAN MATCH slow). */
const MAX_PATTERN_LENGTH = 200;

export const USAGE = `Usage:
  cache-warmer [run] [--config FILE]             run the daemon (default)
  cache-warmer --once JOB[,JOB...]|all [--config FILE]
                                                 refresh now, in this process, then exit
  cache-warmer status [--json] [--config FILE]   show the status store
  cache-warmer keys [PATTERN | --project ID] [--limit N] [--json] [--config FILE]
                                                 list warmed keys with TTL left, age and size
                                                 (at most ${DEFAULT_KEYS_LIMIT} unless --limit, up to ${MAX_KEYS_LIMIT})
  cache-warmer clear PATTERN | --project ID [--yes] [--json] [--config FILE]
                                                 delete warmed keys; asks first on a terminal,
                                                 needs --yes when not on a terminal
  cache-warmer doctor [--json] [--config FILE]   check the configuration, Redis and the upstream
  cache-warmer --help | --version

PATTERN is a Redis glob relative to the key prefix, e.g. 'project:123:*' (quote it
for the shell); the warmer's own keys (status, queue, rate limit) are never listed
or deleted. --project ID is every key of that project, whatever job wrote it.

Exit codes: 0 ok, 1 a refresh, a doctor check or the daemon failed (or clear was
declined), 2 usage error, 3 invalid configuration.`;

type Flag = 'json' | 'yes' | 'project' | 'limit';
type Kind = Command['kind'];

/** Which commands take which flag, and the message when one is given elsewhere. */
const FLAG_RULES: Record<Flag, { commands: readonly Kind[]; message: string }> = {
  json: { commands: ['status', 'keys', 'clear', 'doctor'], message: '--json applies to status, keys, clear and doctor only' },
  yes: { commands: ['clear'], message: '--yes applies to clear only' },
  project: { commands: ['keys', 'clear'], message: '--project applies to keys and clear only' },
  limit: { commands: ['keys'], message: '--limit applies to keys only' },
};

const COMMANDS = ['run', 'status', 'keys', 'clear', 'doctor'] as const;

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
        yes: { type: 'boolean', short: 'y' },
        project: { type: 'string' },
        limit: { type: 'string' },
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
  const name = positionals[0];
  const config = values.config;
  if (config === '') throw new UsageError('--config needs a file path');
  const withConfig = config === undefined ? {} : { config };

  const kind = commandKind(name, values.once !== undefined);
  if (kind === 'help') return { kind: 'help' };
  for (const flag of Object.keys(FLAG_RULES) as Flag[]) {
    if (values[flag] !== undefined && !FLAG_RULES[flag].commands.includes(kind)) throw new UsageError(FLAG_RULES[flag].message);
  }
  // keys and clear take one PATTERN after the command name; the others nothing.
  const maxPositionals = kind === 'keys' || kind === 'clear' ? 2 : kind === 'once' ? 0 : 1;
  if (positionals.length > maxPositionals) throw new UsageError(`unexpected argument "${positionals[maxPositionals]}"`);
  const json = values.json ?? false;

  switch (kind) {
    case 'once': {
      const list = values.once!.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.length === 0) throw new UsageError('--once needs job names or "all"');
      return { kind: 'once', jobs: list.includes('all') ? 'all' : [...new Set(list)], ...withConfig };
    }
    case 'run':
      return { kind: 'run', ...withConfig };
    case 'status':
      return { kind: 'status', json, ...withConfig };
    case 'doctor':
      return { kind: 'doctor', json, ...withConfig };
    case 'keys':
      return { kind: 'keys', json, target: keyTarget('keys', positionals[1], values.project) ?? { pattern: '*' }, limit: parseLimit(values.limit), ...withConfig };
    case 'clear': {
      const target = keyTarget('clear', positionals[1], values.project);
      if (!target) throw new UsageError("clear needs PATTERN or --project ID (e.g. clear 'project:123:*' or clear --project 123)");
      return { kind: 'clear', json, target, yes: values.yes ?? false, ...withConfig };
    }
  }
}

function commandKind(name: string | undefined, once: boolean): Exclude<Kind, 'version'> {
  if (once) {
    if (name !== undefined) throw new UsageError(`--once cannot be combined with the "${name}" command`);
    return 'once';
  }
  if (name === undefined) return 'run';
  if (name === 'help' || (COMMANDS as readonly string[]).includes(name)) return name as Exclude<Kind, 'version'>;
  throw new UsageError(`unknown command "${name}" (commands: ${COMMANDS.join(', ')}; or --once)`);
}

function keyTarget(command: string, pattern: string | undefined, project: string | undefined): KeyTarget | undefined {
  if (pattern !== undefined && project !== undefined) throw new UsageError(`${command}: give either PATTERN or --project, not both`);
  if (project !== undefined) {
    const given: string = project; // isIdString narrows to never when false
    if (!isIdString(project)) throw new UsageError(`--project needs a decimal project id, got ${JSON.stringify(given.slice(0, 40))}`);
    return { project };
  }
  if (pattern === undefined) return undefined;
  if (pattern === '') throw new UsageError(`${command}: PATTERN must not be empty (use '*' for every warmed key)`);
  if (pattern.length > MAX_PATTERN_LENGTH) throw new UsageError(`${command}: PATTERN is longer than ${MAX_PATTERN_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(pattern)) throw new UsageError(`${command}: PATTERN ${JSON.stringify(pattern.slice(0, 40))} holds a space or control character (keys never do)`);
  return { pattern };
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_KEYS_LIMIT;
  const n = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_KEYS_LIMIT)) throw new UsageError(`--limit needs a whole number from 1 to ${MAX_KEYS_LIMIT}, got ${JSON.stringify(raw.slice(0, 20))}`);
  return n;
}
