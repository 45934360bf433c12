import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { DefinitionError } from '../shared/errors.js';
import { parseJob, type ParsedJob } from './parse.js';

/** jobs/ sits two levels up from this file both in the sources and in dist/. */
export const JOBS_DIR = fileURLToPath(new URL('../../jobs/', import.meta.url));

/**
 * Discovers every job file in `dir` (one default export each) and parses it.
 * Adding a job is adding a file: nothing here names a job.
 */
export async function loadJobs(dir: string = JOBS_DIR): Promise<ParsedJob[]> {
  const entries = (await readdir(dir)).filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('_')).sort();
  const jobs: ParsedJob[] = [];
  for (const file of entries) {
    const module = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
    jobs.push(parseJob(module.default, `jobs/${file}`));
  }
  const names = new Set<string>();
  for (const job of jobs) {
    if (names.has(job.name)) throw new DefinitionError(`${job.file}: name "${job.name}" is used by another job file`);
    names.add(job.name);
  }
  if (jobs.filter((j) => j.providesProjects).length > 1) {
    throw new DefinitionError('more than one job declares providesProjects: per-project jobs would not know which list to follow');
  }
  return jobs;
}
