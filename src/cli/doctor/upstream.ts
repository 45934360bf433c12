import type { Config } from '../../../config/load.js';
import type { ParsedJob } from '../../definition/parse.js';
import { createUpstream, type UpstreamAnswer } from '../../upstream/client.js';
import { unitContext } from '../../worker/units.js';
import { describeError, isWarmerError } from '../../shared/errors.js';
import { redactUrl } from '../../shared/secrets.js';
import { formatDuration } from '../format.js';
import { check, type Check } from './check.js';

/** Below this, the token's remaining lifetime is a warning: rotate it before the daemon stops working. */
export const TOKEN_WARN_SECONDS = 86_400;

/**
 * One authenticated request, the first page of the projects list (the job
 * that `providesProjects`, for the first configured scope): the request the
 * daemon sends every hour, so it proves what the daemon needs. It is sent
 * once, without retries and outside the fleet's rate limit (a single request
 * does not need a slot, and doctor must not depend on Redis for it).
 * Three checks: the upstream answers, the token is accepted, and how long
 * the token has left (`x-expire-in`, in seconds, on every response).
 */
export async function checkUpstream(jobs: readonly ParsedJob[], config: Config): Promise<Check[]> {
  const base = redactUrl(config.upstream.baseUrl).replace(/\/$/, '');
  const provider = jobs.find((j) => j.providesProjects) ?? jobs.find((j) => j.fanOut === 'group');
  if (!provider) {
    return [
      check('upstream', 'upstream', 'skip', 'no job in jobs/ requests group-level data to try'),
      check('upstream.token', 'upstream token', 'skip', 'nothing was requested'),
      check('upstream.token-lifetime', 'token lifetime', 'skip', 'nothing was requested'),
    ];
  }
  const upstream = createUpstream({
    baseUrl: config.upstream.baseUrl,
    token: config.upstream.token,
    timeoutMs: config.upstream.timeoutMs,
    deadlineMs: config.upstream.deadlineMs,
    retries: 0,
    maxBodyBytes: config.upstream.maxBodyBytes,
    maxRetryAfterMs: config.upstream.maxRetryAfterMs,
  });
  const request = provider.request(unitContext({ groupId: config.upstream.groupId, timeZone: config.group.timezone, now: new Date() }, { variant: config.projects.scopes[0] ?? 'ongoing' }));
  const route = `GET ${request.path}`;
  const started = Date.now();
  let answer: UpstreamAnswer | undefined;
  let failure: unknown;
  try {
    answer = await upstream.get(request);
  } catch (error) {
    failure = error;
  }
  const ms = Date.now() - started;
  const lifetime = tokenLifetime(upstream.tokenExpiresInSeconds);

  if (answer) {
    const shaped = provider.response.safeParse(answer.data).success;
    return [
      check('upstream', 'upstream', shaped ? 'ok' : 'warn', `${base} answered ${route} in ${ms} ms${shaped ? '' : ', but not in the shape jobs/' + provider.name + ' expects'}`),
      check('upstream.token', 'upstream token', 'ok', 'accepted'),
      lifetime,
    ];
  }
  const code = isWarmerError(failure) ? failure.code : undefined;
  const message = describeError(failure);
  switch (code) {
    case 'ERR_UPSTREAM_AUTH':
      return [
        check('upstream', 'upstream', 'ok', `${base} answered ${route} in ${ms} ms`),
        check('upstream.token', 'upstream token', 'fail', 'token refused (HTTP 401): expired or revoked; put a new one in UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE'),
        check('upstream.token-lifetime', 'token lifetime', 'skip', 'the token was refused'),
      ];
    case 'ERR_UPSTREAM_REJECTED':
      // HTTP 200 with succeeded=false: the token is valid, but its account may not read the group (1030, 14210).
      return [
        check('upstream', 'upstream', 'ok', `${base} answered ${route} in ${ms} ms`),
        check('upstream.token', 'upstream token', 'fail', `accepted, but the request was refused: ${message}`),
        lifetime,
      ];
    case 'ERR_UPSTREAM_THROTTLED':
      return [
        check('upstream', 'upstream', 'ok', `${base} answered ${route} in ${ms} ms`),
        check('upstream.token', 'upstream token', 'warn', `not verified: the upstream throttled the request (${message}); try again later`),
        lifetime,
      ];
    case 'ERR_CONFIG':
      // A token file that cannot be read now (it was readable when the configuration loaded).
      return [
        check('upstream', 'upstream', 'skip', 'no request sent: no token'),
        check('upstream.token', 'upstream token', 'fail', message),
        check('upstream.token-lifetime', 'token lifetime', 'skip', 'no request sent'),
      ];
    default:
      return [
        check('upstream', 'upstream', 'fail', `${base}: ${message}`),
        check('upstream.token', 'upstream token', 'skip', 'the upstream did not answer'),
        check('upstream.token-lifetime', 'token lifetime', 'skip', 'the upstream did not answer'),
      ];
  }
}

function tokenLifetime(seconds: number | undefined): Check {
  const id = 'upstream.token-lifetime';
  const title = 'token lifetime';
  if (seconds === undefined) return check(id, title, 'warn', 'unknown: the upstream sent no x-expire-in header');
  if (seconds <= 0) return check(id, title, 'fail', `expired (x-expire-in: ${seconds} s): rotate the token`);
  const left = `${formatDuration(seconds * 1000)} left (x-expire-in: ${seconds} s)`;
  if (seconds < TOKEN_WARN_SECONDS) return check(id, title, 'warn', `${left}: under a day, rotate the token soon`);
  return check(id, title, 'ok', left);
}
