import { basename } from 'node:path';
import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { queuePrefix } from '../../runtime.js';
import { check, formatReport, report, type Check } from '../doctor/check.js';
import { checkRedis, type RedisUnderTest } from '../doctor/redis.js';
import { checkUpstream } from '../doctor/upstream.js';

export interface DoctorOptions {
  json: boolean;
  /** The --config file, to say where the configuration came from. */
  file?: string | undefined;
}

/**
 * A checklist of what the daemon needs: the configuration, each Redis
 * (reachable, version, PEXPIRE … GT on the cache Redis, noeviction on the
 * queue Redis, ACL permissions; once when queue and cache share a URL), and
 * the upstream (reachable, token accepted, token lifetime). Exit 1 when any
 * check fails; warnings do not. Secrets never appear: URLs are redacted and
 * every detail is scrubbed of registered secrets.
 */
export async function doctorCommand(jobs: readonly ParsedJob[], config: Config, options: DoctorOptions, out: (line: string) => void): Promise<number> {
  const from = options.file ? `${basename(options.file)}, defaults and the environment` : 'defaults and the environment';
  const enabled = Object.values(config.jobs).filter((j) => j.enabled).length;
  const configCheck = check('config', 'configuration', 'ok', `valid (${from}): prefix "${config.cache.prefix}", group ${config.upstream.groupId}, ${enabled} of ${jobs.length} jobs enabled`);
  const [redisChecks, upstreamChecks] = await Promise.all([
    Promise.all(redisServers(config).map((server) => checkRedis(server, config.cache.prefix, queuePrefix(config)))),
    checkUpstream(jobs, config),
  ]);
  return print([configCheck, ...redisChecks.flat(), ...upstreamChecks], options.json, out) ? 0 : 1;
}

/**
 * Doctor when the configuration (or a job definition) is invalid: the
 * failure is the first check and the others are skipped, since they need the
 * configuration. The exit code stays 3, as for any command.
 */
export function doctorConfigFailure(message: string, json: boolean, out: (line: string) => void): number {
  print(
    [
      check('config', 'configuration', 'fail', message),
      check('redis', 'redis', 'skip', 'needs a valid configuration'),
      check('upstream', 'upstream', 'skip', 'needs a valid configuration'),
    ],
    json,
    out,
  );
  return 3;
}

function redisServers(config: Config): RedisUnderTest[] {
  const { queue, cache, shared } = config.redis;
  if (shared) return [{ target: queue, roles: ['queue', 'cache'], split: false }];
  return [
    { target: queue, roles: ['queue'], split: true },
    { target: cache, roles: ['cache'], split: true },
  ];
}

function print(checks: Check[], json: boolean, out: (line: string) => void): boolean {
  const doc = report(checks);
  out(json ? JSON.stringify(doc, null, 2) : formatReport(doc));
  return doc.ok;
}
