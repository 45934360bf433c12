/** The command line: parses argv, runs a command, sets the exit code (loaded by main.ts). */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../config/load.js';
import { loadJobs } from '../definition/load.js';
import type { ParsedJob } from '../definition/parse.js';
import { createLogger } from '../shared/logger.js';
import { holdHeap } from '../shared/heap.js';
import { ConfigError, DefinitionError, UsageError, describeError } from '../shared/errors.js';
import { scrub } from '../shared/secrets.js';
import { parseCommand, USAGE, type Command } from './args.js';
import { runCommand } from './commands/run.js';
import { onceCommand, selectJobs } from './commands/once.js';
import { statusCommand } from './commands/status.js';
import { keysCommand } from './commands/keys.js';
import { clearCommand } from './commands/clear.js';
import { doctorCommand, doctorConfigFailure } from './commands/doctor.js';
import { createProgress, formatLogLine, wantsProgressBar } from './progress.js';

const out = (line: string) => void process.stdout.write(`${line}\n`);

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration or job definition. */
async function main(argv: readonly string[]): Promise<number> {
  const command = parseCommand(argv);
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command.kind === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (command.kind === 'doctor') return doctor(command);
  const jobs = await loadJobs();
  const names = command.kind === 'once' ? selectJobs(jobs, command.jobs) : [];
  const config = load(jobs, command);
  // Long-lived (run) or bulk (once) work: the heap as configured. The short
  // admin commands keep the start-up setting, which suits them.
  const heap = command.kind === 'run' || command.kind === 'once' ? holdHeap({ growthPercent: config.memory.heapGrowthPercent, semiSpaceMb: config.memory.semiSpaceMb }) : undefined;
  switch (command.kind) {
    case 'run': {
      const logger = createLogger(config.log.level);
      // Says which settings hold, including a node flag that overrode the configuration.
      logger.info({ heap: heap?.applied }, 'V8 heap settings');
      return runCommand(jobs, config, logger);
    }
    case 'once': {
      // On a terminal: bars on stderr. When stdout is that terminal too, the
      // log lines would tear through the bars: warnings and errors are printed
      // above them, readable; redirect stdout for the full JSON log.
      const progress = wantsProgressBar(process.stderr, process.env) ? createProgress(process.stderr, names) : undefined;
      const logger =
        progress && process.stdout.isTTY
          ? createLogger(atLeast(config.log.level, 'warn'), { write: (line: string) => progress.log(formatLogLine(line)) })
          : createLogger(config.log.level);
      return onceCommand(jobs, names, command.jobs === 'all', config, logger, progress);
    }
    case 'status':
      return statusCommand(jobs, config, command.json, out);
    case 'keys':
      return keysCommand(jobs, config, command, out);
    case 'clear':
      return clearCommand(jobs, config, command, { input: process.stdin, prompt: process.stderr }, out);
  }
}

/** Commands that only read or delete keys need no token or group id: they never call the upstream. */
function load(jobs: readonly ParsedJob[], command: Exclude<Command, { kind: 'help' | 'version' }>): Config {
  return loadConfig({
    jobNames: jobs.map((j) => j.name),
    ...(command.config !== undefined ? { file: command.config } : {}),
    requireUpstream: command.kind === 'run' || command.kind === 'once' || command.kind === 'doctor',
  });
}

/** Doctor reports an invalid configuration as its first, failed check (still exit 3) instead of one bare line. */
async function doctor(command: Extract<Command, { kind: 'doctor' }>): Promise<number> {
  let jobs: ParsedJob[];
  let config: Config;
  try {
    jobs = await loadJobs();
    config = load(jobs, command);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DefinitionError) return doctorConfigFailure(error.message, command.json, out);
    throw error;
  }
  return doctorCommand(jobs, config, { json: command.json, file: command.config }, out);
}

/** The stricter of the configured level and `floor`. */
function atLeast(level: string, floor: 'warn'): string {
  const values = pino.levels.values;
  if (level === 'silent' || (values[level] ?? 0) >= values[floor]!) return level;
  return floor;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const line = (text: string) => process.stderr.write(`cache-warmer: ${scrub(text)}\n`);
    if (error instanceof UsageError) {
      line(error.message);
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError || error instanceof DefinitionError) {
      line(error.message);
      process.exitCode = 3;
    } else {
      line(describeError(error) + (error instanceof Error && !(error as { code?: unknown }).code ? `: ${error.message}` : ''));
      process.exitCode = 1;
    }
  },
);
