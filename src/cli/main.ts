#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import { loadJobs } from '../definition/load.js';
import { createLogger } from '../shared/logger.js';
import { ConfigError, DefinitionError, UsageError, describeError } from '../shared/errors.js';
import { scrub } from '../shared/secrets.js';
import { parseCommand, USAGE } from './args.js';
import { runCommand } from './commands/run.js';
import { onceCommand, selectJobs } from './commands/once.js';
import { statusCommand } from './commands/status.js';

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
  const jobs = await loadJobs();
  const names = command.kind === 'once' ? selectJobs(jobs, command.jobs) : [];
  const config = loadConfig({
    jobNames: jobs.map((j) => j.name),
    ...(command.config !== undefined ? { file: command.config } : {}),
    requireUpstream: command.kind !== 'status',
  });
  const logger = createLogger(config.log.level);
  switch (command.kind) {
    case 'run':
      return runCommand(jobs, config, logger);
    case 'once':
      return onceCommand(jobs, names, command.jobs === 'all', config, logger);
    case 'status':
      return statusCommand(jobs, config, command.json, (line) => process.stdout.write(`${line}\n`));
  }
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
