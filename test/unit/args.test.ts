import { describe, expect, it } from 'vitest';
import { parseCommand, USAGE } from '../../src/cli/args.js';
import { UsageError } from '../../src/shared/errors.js';

function usageError(argv: string[]): string {
  try {
    parseCommand(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe('ERR_USAGE');
    return (error as Error).message;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

describe('parseCommand', () => {
  it('runs the daemon when given no arguments or "run"', () => {
    expect(parseCommand([])).toStrictEqual({ kind: 'run' });
    expect(parseCommand(['run'])).toStrictEqual({ kind: 'run' });
  });

  it('carries --config and -c to every command', () => {
    expect(parseCommand(['run', '--config', 'prod.json'])).toStrictEqual({ kind: 'run', config: 'prod.json' });
    expect(parseCommand(['-c', 'prod.json'])).toStrictEqual({ kind: 'run', config: 'prod.json' });
    expect(parseCommand(['--config=prod.json', 'status'])).toStrictEqual({ kind: 'status', json: false, config: 'prod.json' });
    expect(parseCommand(['--once', 'topics', '-c', 'x.json'])).toStrictEqual({ kind: 'once', jobs: ['topics'], config: 'x.json' });
  });

  it('lists the jobs of --once in order, trimmed and without repeats', () => {
    expect(parseCommand(['--once', 'topics'])).toStrictEqual({ kind: 'once', jobs: ['topics'] });
    expect(parseCommand(['--once', 'topics, leaderboards,topics,,'])).toStrictEqual({ kind: 'once', jobs: ['topics', 'leaderboards'] });
    expect(parseCommand(['--once=daily-stats'])).toStrictEqual({ kind: 'once', jobs: ['daily-stats'] });
  });

  it('reads "all" in --once as every job', () => {
    expect(parseCommand(['--once', 'all'])).toStrictEqual({ kind: 'once', jobs: 'all' });
    expect(parseCommand(['--once', 'topics,all'])).toStrictEqual({ kind: 'once', jobs: 'all' });
  });

  it('shows status as text by default and as JSON with --json', () => {
    expect(parseCommand(['status'])).toStrictEqual({ kind: 'status', json: false });
    expect(parseCommand(['status', '--json'])).toStrictEqual({ kind: 'status', json: true });
    expect(parseCommand(['--json', 'status'])).toStrictEqual({ kind: 'status', json: true });
  });

  it('answers help and version before anything else', () => {
    expect(parseCommand(['--help'])).toStrictEqual({ kind: 'help' });
    expect(parseCommand(['-h'])).toStrictEqual({ kind: 'help' });
    expect(parseCommand(['help'])).toStrictEqual({ kind: 'help' });
    expect(parseCommand(['--version'])).toStrictEqual({ kind: 'version' });
    expect(parseCommand(['status', '--help'])).toStrictEqual({ kind: 'help' });
  });

  it('rejects an unknown flag', () => {
    expect(usageError(['--bogus'])).toContain('--bogus');
    expect(usageError(['run', '-x'])).toContain('-x');
  });

  it('rejects an unknown command, listing the commands', () => {
    expect(usageError(['frobnicate'])).toBe('unknown command "frobnicate" (commands: run, status; or --once)');
  });

  it('rejects --once with no job names', () => {
    expect(usageError(['--once'])).toContain('--once');
    expect(usageError(['--once', ''])).toBe('--once needs job names or "all"');
    expect(usageError(['--once', ' , '])).toBe('--once needs job names or "all"');
  });

  it('rejects --once combined with a command', () => {
    expect(usageError(['status', '--once', 'topics'])).toBe('--once cannot be combined with the "status" command');
    expect(usageError(['run', '--once', 'topics'])).toContain('"run"');
  });

  it('rejects --json outside status', () => {
    expect(usageError(['--json'])).toBe('--json applies to status only');
    expect(usageError(['run', '--json'])).toBe('--json applies to status only');
    expect(usageError(['--once', 'topics', '--json'])).toBe('--json applies to status only');
  });

  it('rejects a second positional argument and an empty --config', () => {
    expect(usageError(['status', 'extra'])).toBe('unexpected argument "extra"');
    expect(usageError(['--config', ''])).toBe('--config needs a file path');
    expect(usageError(['--config'])).toContain('--config');
  });

  it('documents the commands and exit codes it parses', () => {
    for (const word of ['run', '--once', 'status', '--json', '--config', '--help', '--version', '2 usage error']) expect(USAGE).toContain(word);
  });
});
