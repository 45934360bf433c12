import { describe, expect, it } from 'vitest';
import { DEFAULT_KEYS_LIMIT, MAX_KEYS_LIMIT, parseCommand, USAGE } from '../../src/cli/args.js';
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
    expect(usageError(['frobnicate'])).toBe('unknown command "frobnicate" (commands: run, status, keys, clear, doctor; or --once)');
    expect(usageError(['frobnicate', '--json'])).toContain('unknown command "frobnicate"');
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

  it('rejects --json outside status, keys, clear and doctor', () => {
    expect(usageError(['--json'])).toBe('--json applies to status, keys, clear and doctor only');
    expect(usageError(['run', '--json'])).toBe('--json applies to status, keys, clear and doctor only');
    expect(usageError(['--once', 'topics', '--json'])).toBe('--json applies to status, keys, clear and doctor only');
  });

  it('rejects a second positional argument and an empty --config', () => {
    expect(usageError(['status', 'extra'])).toBe('unexpected argument "extra"');
    expect(usageError(['--config', ''])).toBe('--config needs a file path');
    expect(usageError(['--config'])).toContain('--config');
  });

  it('documents the commands and exit codes it parses', () => {
    for (const word of ['run', '--once', 'status', '--json', '--config', '--help', '--version', '2 usage error']) expect(USAGE).toContain(word);
    for (const word of ['keys [PATTERN', 'clear PATTERN', 'doctor', '--project ID', '--limit N', '--yes', '3 invalid configuration']) expect(USAGE).toContain(word);
  });
});

describe('parseCommand: keys', () => {
  it('lists every warmed key by default, with the default limit', () => {
    expect(parseCommand(['keys'])).toStrictEqual({ kind: 'keys', json: false, target: { pattern: '*' }, limit: DEFAULT_KEYS_LIMIT });
  });

  it('takes a PATTERN relative to the prefix, --limit, --json and --config', () => {
    expect(parseCommand(['keys', 'project:123:*', '--limit', '5', '--json', '-c', 'x.json'])).toStrictEqual({
      kind: 'keys',
      json: true,
      target: { pattern: 'project:123:*' },
      limit: 5,
      config: 'x.json',
    });
    expect(parseCommand(['keys', '--limit=100000'])).toMatchObject({ limit: MAX_KEYS_LIMIT });
  });

  it('takes --project ID instead of a PATTERN', () => {
    expect(parseCommand(['keys', '--project', '123'])).toStrictEqual({ kind: 'keys', json: false, target: { project: '123' }, limit: DEFAULT_KEYS_LIMIT });
  });

  it('rejects a PATTERN together with --project', () => {
    expect(usageError(['keys', 'project:1:*', '--project', '1'])).toBe('keys: give either PATTERN or --project, not both');
  });

  it('rejects a --limit that is not a whole number from 1 to the maximum', () => {
    for (const bad of ['0', '-1', '1.5', 'ten', '', '100001', '99999999999']) {
      expect(usageError(['keys', `--limit=${bad}`])).toBe(`--limit needs a whole number from 1 to ${MAX_KEYS_LIMIT}, got ${JSON.stringify(bad)}`);
    }
  });

  it('rejects an empty PATTERN, one with a space or control character, and an overlong one', () => {
    expect(usageError(['keys', ''])).toBe("keys: PATTERN must not be empty (use '*' for every warmed key)");
    expect(usageError(['keys', 'project: 1'])).toBe('keys: PATTERN "project: 1" holds a space or control character (keys never do)');
    expect(usageError(['keys', 'a\u0007b'])).toContain('holds a space or control character');
    expect(usageError(['keys', 'x'.repeat(201)])).toBe('keys: PATTERN is longer than 200 characters');
  });

  it('rejects a second PATTERN and flags of other commands', () => {
    expect(usageError(['keys', 'a*', 'b*'])).toBe('unexpected argument "b*"');
    expect(usageError(['keys', '--yes'])).toBe('--yes applies to clear only');
  });
});

describe('parseCommand: clear', () => {
  it('takes a PATTERN, asking for confirmation unless --yes or -y', () => {
    expect(parseCommand(['clear', 'project:123:*'])).toStrictEqual({ kind: 'clear', json: false, target: { pattern: 'project:123:*' }, yes: false });
    expect(parseCommand(['clear', '*', '--yes'])).toStrictEqual({ kind: 'clear', json: false, target: { pattern: '*' }, yes: true });
    expect(parseCommand(['clear', '-y', '--json', 'topics*'])).toStrictEqual({ kind: 'clear', json: true, target: { pattern: 'topics*' }, yes: true });
  });

  it('takes --project ID, which must be a decimal id', () => {
    expect(parseCommand(['clear', '--project', '2424141521', '--yes'])).toStrictEqual({ kind: 'clear', json: false, target: { project: '2424141521' }, yes: true });
    expect(usageError(['clear', '--project', '12a'])).toBe('--project needs a decimal project id, got "12a"');
    expect(usageError(['clear', '--project', '*'])).toBe('--project needs a decimal project id, got "*"');
    expect(usageError(['clear', '--project', ''])).toBe('--project needs a decimal project id, got ""');
  });

  it('needs a PATTERN or --project, not both and not neither', () => {
    expect(usageError(['clear'])).toBe("clear needs PATTERN or --project ID (e.g. clear 'project:123:*' or clear --project 123)");
    expect(usageError(['clear', '--yes'])).toContain('clear needs PATTERN or --project ID');
    expect(usageError(['clear', 'p*', '--project', '1'])).toBe('clear: give either PATTERN or --project, not both');
    expect(usageError(['clear', ''])).toBe("clear: PATTERN must not be empty (use '*' for every warmed key)");
  });

  it('rejects --limit', () => {
    expect(usageError(['clear', '*', '--limit', '3'])).toBe('--limit applies to keys only');
  });
});

describe('parseCommand: doctor and the flags of the admin commands elsewhere', () => {
  it('runs doctor as text or JSON', () => {
    expect(parseCommand(['doctor'])).toStrictEqual({ kind: 'doctor', json: false });
    expect(parseCommand(['doctor', '--json', '--config', 'p.json'])).toStrictEqual({ kind: 'doctor', json: true, config: 'p.json' });
  });

  it('rejects arguments and admin flags doctor does not take', () => {
    expect(usageError(['doctor', 'extra'])).toBe('unexpected argument "extra"');
    expect(usageError(['doctor', '--yes'])).toBe('--yes applies to clear only');
    expect(usageError(['doctor', '--project', '1'])).toBe('--project applies to keys and clear only');
    expect(usageError(['doctor', '--limit', '1'])).toBe('--limit applies to keys only');
  });

  it('rejects --yes, --project and --limit on run, status and --once', () => {
    expect(usageError(['--yes'])).toBe('--yes applies to clear only');
    expect(usageError(['status', '--project', '1'])).toBe('--project applies to keys and clear only');
    expect(usageError(['--once', 'all', '--limit', '1'])).toBe('--limit applies to keys only');
    expect(usageError(['--once', 'all', '-y'])).toBe('--yes applies to clear only');
  });

  it('rejects --once combined with an admin command', () => {
    expect(usageError(['keys', '--once', 'all'])).toBe('--once cannot be combined with the "keys" command');
    expect(usageError(['clear', 'x', '--once', 'all'])).toBe('--once cannot be combined with the "clear" command');
  });
});
