import { createInterface } from 'node:readline/promises';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { countKeys, unlinkKeys } from '../../cache/admin.js';
import { UsageError } from '../../shared/errors.js';
import { closeRedis } from '../../shared/redis.js';
import type { KeyTarget } from '../args.js';
import { openRedis } from '../connect.js';
import { prefixHint, resolveTarget } from '../key-target.js';

export interface ClearOptions {
  target: KeyTarget;
  yes: boolean;
  json: boolean;
}

/** The terminal a confirmation is asked on: the answer is read from `input`, the question written to `prompt` (stderr, so stdout stays the result). */
export interface ClearTerminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  prompt: NodeJS.WritableStream & { isTTY?: boolean };
}

/** A pattern made only of `*`: every warmed key. */
const EVERYTHING = /^\*+$/;

/**
 * Deletes warmed keys in the cache Redis with SCAN + UNLINK, page by page,
 * never the warmer's own keys (status store, queue, rate limit). Without
 * `--yes` it asks first, which needs a terminal: not on one, it refuses with
 * a usage error (exit 2) before connecting, so a script that forgot `--yes`
 * deletes nothing. Clearing everything (`'*'`) on a terminal asks for the
 * prefix to be typed, not just "y". A declined prompt deletes nothing and
 * exits 1. The daemon writes the keys again on its next runs.
 */
export async function clearCommand(jobs: readonly ParsedJob[], config: Config, options: ClearOptions, terminal: ClearTerminal, out: (line: string) => void): Promise<number> {
  const interactive = Boolean(terminal.input.isTTY && terminal.prompt.isTTY);
  if (!options.yes && !interactive) {
    throw new UsageError('clear: not on a terminal, so it cannot ask for confirmation: add --yes to delete without asking (nothing was deleted)');
  }
  const prefix = config.cache.prefix;
  const resolved = resolveTarget(options.target, jobs, config);
  const redis = await openRedis(config.redis.cache, 'cache');
  try {
    if (!options.yes) {
      const { count, sample } = await countKeys(redis, resolved.space, resolved.selector);
      if (count === 0) {
        const hint = prefixHint(options.target, prefix);
        return report(0, `nothing to delete: no warmed key matches ${resolved.description}${hint ? ` (${hint})` : ''}`);
      }
      const everything = 'pattern' in options.target && EVERYTHING.test(options.target.pattern);
      const lines = [
        `${count} warmed key${count === 1 ? '' : 's'} match ${resolved.description}, e.g.:`,
        ...sample.map((key) => `  ${key}`),
        'The daemon writes them again on its next runs; the status store and the queue are not touched.',
      ];
      const question = everything ? `This deletes EVERY warmed key. Type the prefix "${prefix}" to confirm: ` : `Delete ${count === 1 ? 'it' : 'them'}? [y/N] `;
      const answer = await ask(terminal, `${lines.join('\n')}\n${question}`);
      const confirmed = everything ? answer === prefix : /^(y|yes)$/i.test(answer);
      if (!confirmed) {
        terminal.prompt.write('aborted: nothing deleted\n');
        return 1;
      }
    }
    const deleted = await unlinkKeys(redis, resolved.space, resolved.selector);
    return report(deleted, `deleted ${deleted} key${deleted === 1 ? '' : 's'} matching ${resolved.description}`);
  } finally {
    await closeRedis(redis);
  }

  function report(deleted: number, text: string): number {
    out(options.json ? JSON.stringify({ prefix, ...resolved.json, deleted }) : text);
    return 0;
  }
}

async function ask(terminal: ClearTerminal, question: string): Promise<string> {
  const rl = createInterface({ input: terminal.input, output: terminal.prompt });
  // Ctrl-C (or Ctrl-D) at the prompt is a "no", not a process left waiting on a paused terminal.
  const cancel = new AbortController();
  rl.on('SIGINT', () => cancel.abort());
  rl.on('close', () => cancel.abort());
  try {
    return (await rl.question(question, { signal: cancel.signal })).trim();
  } catch {
    terminal.prompt.write('\n');
    return '';
  } finally {
    rl.close();
  }
}
