import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type LoadOptions } from '../../config/load.js';
import { ConfigError } from '../../src/shared/errors.js';
import { scrub } from '../../src/shared/secrets.js';

const JOBS = ['daily-stats', 'leaderboards', 'project-stats', 'projects-list', 'topics'] as const;
// Distinctive, so that any trace of it in a message is found.
const TOKEN = '8D0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';
const GID = '15555411412112';
const ENV = { UPSTREAM_TOKEN: TOKEN, UPSTREAM_GROUP_ID: GID };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cache-warmer-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `config.json` (text or a value to stringify) in the test's directory. */
function configFile(content: unknown, name = 'config.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function load(options: Partial<LoadOptions> = {}) {
  return loadConfig({ jobNames: JOBS, env: { ...ENV }, ...options });
}

/** The one-line ConfigError message of a load that must fail; never carries the token. */
function failure(options: Partial<LoadOptions>): string {
  try {
    load(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ERR_CONFIG');
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain(TOKEN.slice(0, 8));
    return message;
  }
  throw new Error('expected a ConfigError, the configuration was accepted');
}

describe('loadConfig defaults', () => {
  it('fills every setting not given from the documented defaults', () => {
    const config = load();
    const { upstream, http, ...rest } = config;
    expect({ ...http, adminToken: http.adminToken() }).toStrictEqual({ enabled: true, port: 9464, host: '127.0.0.1', adminToken: '' });
    expect(rest).toStrictEqual({
      redis: {
        url: 'redis://127.0.0.1:6379',
        queueUrl: 'redis://127.0.0.1:6379',
        cacheUrl: 'redis://127.0.0.1:6379',
        ca: undefined,
        queue: { url: 'redis://127.0.0.1:6379', ca: undefined },
        cache: { url: 'redis://127.0.0.1:6379', ca: undefined },
        shared: true,
      },
      cache: { prefix: 'zsxq', maxStaleMs: 24 * 3_600_000 },
      group: { timezone: 'Asia/Shanghai' },
      projects: { scopes: ['ongoing'] },
      worker: { concurrency: 2, batchSize: 50, lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      shutdown: { graceMs: 10_000 },
      watchdog: { intervalMs: 30_000, stuckAfterMs: 120_000 },
      memory: { heapGrowthPercent: 50, semiSpaceMb: 8 },
      log: { level: 'info' },
      jobs: Object.fromEntries(
        JOBS.map((name) => [name, { enabled: true, everyMs: null, cron: null, alsoAt: undefined, ttlMs: null, emptyTtlMs: null, maxStaleMs: null }]),
      ),
    });
    expect({ ...upstream, token: upstream.token() }).toStrictEqual({
      baseUrl: 'https://api.zsxq.com',
      groupId: GID,
      timeoutMs: 5_000,
      deadlineMs: 8_000,
      retries: 2,
      maxBodyBytes: 10 * 1024 * 1024,
      maxRetryAfterMs: 60_000,
      concurrency: 4,
      rateLimit: 10,
      token: TOKEN,
    });
  });

  it('keeps a request, retries included, shorter than the shutdown grace period', () => {
    expect(() => load({ env: { ...ENV, UPSTREAM_DEADLINE: '12s' } })).toThrow('upstream.deadline (12000 ms) must be shorter than shutdown.grace (10000 ms)');
    expect(load({ env: { ...ENV, UPSTREAM_DEADLINE: '12s', SHUTDOWN_GRACE: '15s' } }).shutdown.graceMs).toBe(15_000);
  });

  it('sends the queue and the cache to separate Redis instances when asked', () => {
    const config = load({ env: { ...ENV, REDIS_QUEUE_URL: 'redis://127.0.0.1:7001', REDIS_CACHE_URL: 'rediss://u:pw-secret@127.0.0.1:7002' } });
    expect(config.redis).toMatchObject({ queueUrl: 'redis://127.0.0.1:7001', cacheUrl: 'rediss://u:pw-secret@127.0.0.1:7002' });
  });

  it('does not read process.env when env is given', () => {
    const saved = process.env.CACHE_PREFIX;
    process.env.CACHE_PREFIX = 'from-process-env';
    try {
      expect(load().cache.prefix).toBe('zsxq');
    } finally {
      if (saved === undefined) delete process.env.CACHE_PREFIX;
      else process.env.CACHE_PREFIX = saved;
    }
  });

  it('needs neither token nor group id for a command that only reads Redis', () => {
    const config = loadConfig({ jobNames: JOBS, env: {}, requireUpstream: false });
    expect(config.upstream.token()).toBe('');
    expect(config.upstream.groupId).toBe('');
  });
});

describe('loadConfig from the environment', () => {
  it('reads each documented variable', () => {
    const config = load({
      env: {
        ...ENV,
        REDIS_URL: 'redis://127.0.0.1:6390/3',
        CACHE_PREFIX: 'test-abc',
        UPSTREAM_BASE_URL: 'http://127.0.0.1:8080/',
        UPSTREAM_GROUP_ID: '42',
        GROUP_TIMEZONE: 'America/New_York',
        LOG_LEVEL: 'debug',
        UPSTREAM_TIMEOUT: '2s',
        UPSTREAM_RETRIES: '0',
        UPSTREAM_CONCURRENCY: '8',
        WORKER_CONCURRENCY: '3',
        PROJECT_SCOPES: 'ongoing, closed',
      },
    });
    expect(config.redis.url).toBe('redis://127.0.0.1:6390/3');
    expect(config.cache.prefix).toBe('test-abc');
    // The trailing slash goes, so that paths join with one.
    expect(config.upstream.baseUrl).toBe('http://127.0.0.1:8080');
    expect(config.upstream.groupId).toBe('42');
    expect(config.group.timezone).toBe('America/New_York');
    expect(config.log.level).toBe('debug');
    expect(config.upstream.timeoutMs).toBe(2000);
    expect(config.upstream.retries).toBe(0);
    expect(config.upstream.concurrency).toBe(8);
    expect(config.worker.concurrency).toBe(3);
    expect(config.projects.scopes).toEqual(['ongoing', 'closed']);
  });

  it('reads the token from UPSTREAM_TOKEN_FILE, trimmed', () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const config = load({ env: { UPSTREAM_TOKEN_FILE: tokenFile, UPSTREAM_GROUP_ID: GID } });
    expect(config.upstream.token()).toBe(TOKEN);
  });

  describe('with a token file that is rotated', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2025-12-10T08:00:00.000Z'));
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('picks up the new token within a second, without reading the file on every call', () => {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, TOKEN);
      const config = load({ env: { UPSTREAM_TOKEN_FILE: tokenFile, UPSTREAM_GROUP_ID: GID } });
      writeFileSync(tokenFile, 'ROTATED-TOKEN-0001\n');
      vi.setSystemTime(new Date('2025-12-10T08:00:00.500Z'));
      expect(config.upstream.token()).toBe(TOKEN);
      vi.setSystemTime(new Date('2025-12-10T08:00:01.001Z'));
      expect(config.upstream.token()).toBe('ROTATED-TOKEN-0001');
    });

    it('keeps the last good token while the file is briefly missing or empty', () => {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, TOKEN);
      const config = load({ env: { UPSTREAM_TOKEN_FILE: tokenFile, UPSTREAM_GROUP_ID: GID } });
      rmSync(tokenFile);
      vi.setSystemTime(new Date('2025-12-10T08:00:02.000Z'));
      expect(config.upstream.token()).toBe(TOKEN);
      writeFileSync(tokenFile, '');
      vi.setSystemTime(new Date('2025-12-10T08:00:04.000Z'));
      expect(config.upstream.token()).toBe(TOKEN);
    });
  });

  it('prefers UPSTREAM_TOKEN over the token file', () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'FROM-THE-FILE-0001');
    expect(load({ env: { ...ENV, UPSTREAM_TOKEN_FILE: tokenFile } }).upstream.token()).toBe(TOKEN);
  });

  it('fails at load when the token file cannot be read or is empty', () => {
    const missing = join(dir, 'no-such-token');
    expect(failure({ env: { UPSTREAM_TOKEN_FILE: missing, UPSTREAM_GROUP_ID: GID } })).toBe(`upstream.tokenFile: cannot read ${missing} (ENOENT)`);
    const empty = join(dir, 'empty-token');
    writeFileSync(empty, ' \n');
    expect(failure({ env: { UPSTREAM_TOKEN_FILE: empty, UPSTREAM_GROUP_ID: GID } })).toBe(`upstream.tokenFile: ${empty} is empty`);
  });

  it('lets the environment override the file', () => {
    const file = configFile({ cache: { prefix: 'from-file' }, log: { level: 'warn' } });
    const config = load({ file, env: { ...ENV, CACHE_PREFIX: 'from-env' } });
    expect(config.cache.prefix).toBe('from-env');
    expect(config.log.level).toBe('warn');
  });
});

describe('loadConfig from a file', () => {
  it('applies per-job settings, durations in milliseconds', () => {
    const file = configFile({
      jobs: {
        topics: { every: '2s', ttl: '10s', emptyTtl: '4s', enabled: true },
        leaderboards: { cron: '0 */10 * * * *' },
        'daily-stats': { alsoAt: false, enabled: false },
        'project-stats': { alsoAt: '0 30 0 * * *' },
      },
    });
    const { jobs } = load({ file });
    expect(jobs.topics).toStrictEqual({ enabled: true, everyMs: 2000, cron: null, alsoAt: undefined, ttlMs: 10_000, emptyTtlMs: 4000, maxStaleMs: null });
    expect(jobs.leaderboards).toStrictEqual({ enabled: true, everyMs: null, cron: '0 */10 * * * *', alsoAt: undefined, ttlMs: null, emptyTtlMs: null, maxStaleMs: null });
    expect(jobs['daily-stats']).toMatchObject({ enabled: false, alsoAt: false });
    expect(jobs['project-stats']!.alsoAt).toBe('0 30 0 * * *');
    expect(jobs['projects-list']).toStrictEqual({ enabled: true, everyMs: null, cron: null, alsoAt: undefined, ttlMs: null, emptyTtlMs: null, maxStaleMs: null });
  });

  it('reads the other settings from the file too', () => {
    const file = configFile({ upstream: { baseUrl: 'https://example.test', groupId: '7', timeout: '3s' }, projects: { scopes: ['closed', 'over'] } });
    const config = load({ file, env: { UPSTREAM_TOKEN: TOKEN } });
    expect([config.upstream.baseUrl, config.upstream.groupId, config.upstream.timeoutMs]).toEqual(['https://example.test', '7', 3000]);
    expect(config.projects.scopes).toEqual(['closed', 'over']);
  });
});

describe('loadConfig errors', () => {
  it('rejects an unknown setting, naming the file and the setting', () => {
    expect(failure({ file: configFile({ upstream: { tokn: TOKEN } }) })).toBe('config.json: upstream.tokn is not a setting');
  });

  it('rejects an unknown job, listing the valid ones', () => {
    expect(failure({ file: configFile({ jobs: { topicz: { every: '5m' } } }) })).toBe(
      'config.json: jobs.topicz is not a job (valid: daily-stats, leaderboards, project-stats, projects-list, topics)',
    );
  });

  it('rejects an unknown per-job setting', () => {
    expect(failure({ file: configFile({ jobs: { topics: { evry: '5m' } } }) })).toBe('config.json: jobs.topics.evry is not a setting');
  });

  it('rejects a duration that is not one, naming the file, the setting and the value', () => {
    expect(failure({ file: configFile({ jobs: { topics: { every: 'banana' } } }) })).toBe(
      'config.json: jobs.topics.every "banana" is not a duration (e.g. 500ms, 30s, 5m, 2h)',
    );
    expect(failure({ file: configFile({ jobs: { topics: { ttl: '0s' } } }) })).toContain('config.json: jobs.topics.ttl "0s" must be greater than zero');
  });

  it('names the environment variable when the bad value came from it', () => {
    expect(failure({ env: { ...ENV, UPSTREAM_TIMEOUT: 'banana' } })).toBe('UPSTREAM_TIMEOUT: upstream.timeout "banana" is not a duration (e.g. 500ms, 30s, 5m, 2h)');
    expect(failure({ env: { ...ENV, LOG_LEVEL: 'loud' } })).toMatch(/^LOG_LEVEL: log\.level "loud" must be one of the possible values/);
    expect(failure({ env: { ...ENV, GROUP_TIMEZONE: 'Mars/Olympus' } })).toBe('GROUP_TIMEZONE: group.timezone "Mars/Olympus" is not an IANA time zone (e.g. Asia/Shanghai)');
    expect(failure({ env: { ...ENV, UPSTREAM_GROUP_ID: '12a' } })).toBe('UPSTREAM_GROUP_ID: upstream.groupId "12a" is not a decimal id');
    expect(failure({ env: { ...ENV, CACHE_PREFIX: 'has space' } })).toContain('CACHE_PREFIX: cache.prefix "has space"');
    expect(failure({ env: { ...ENV, PROJECT_SCOPES: 'ongoing,future' } })).toContain('PROJECT_SCOPES: projects.scopes');
  });

  it('rejects a bad cron and a bad alsoAt', () => {
    expect(failure({ file: configFile({ jobs: { topics: { cron: '61 * * * *' } } }) })).toMatch(
      /^config\.json: jobs\.topics\.cron "61 \* \* \* \*" is not a valid cron expression \(.+\)$/,
    );
    expect(failure({ file: configFile({ jobs: { 'daily-stats': { alsoAt: 'at midnight' } } }) })).toMatch(
      /^config\.json: jobs\.daily-stats\.alsoAt "at midnight" is not a valid cron expression/,
    );
    expect(failure({ file: configFile({ jobs: { 'daily-stats': { alsoAt: true } } }) })).toBe(
      'config.json: jobs.daily-stats.alsoAt true must be a cron expression or false',
    );
  });

  it('rejects every and cron together', () => {
    expect(failure({ file: configFile({ jobs: { topics: { every: '5m', cron: '0 * * * *' } } }) })).toBe(
      'config.json: jobs.topics: give either every or cron, not both',
    );
  });

  it('asks for the token when none is configured', () => {
    expect(failure({ env: { UPSTREAM_GROUP_ID: GID } })).toBe('upstream.token: missing (set UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE)');
  });

  it('asks for the group id when none is configured', () => {
    expect(failure({ env: { UPSTREAM_TOKEN: TOKEN } })).toBe('upstream.groupId: missing (set UPSTREAM_GROUP_ID)');
  });

  it('rejects a malformed upstream URL', () => {
    expect(failure({ env: { ...ENV, UPSTREAM_BASE_URL: 'not a url' } })).toBe('UPSTREAM_BASE_URL: upstream.baseUrl "not a url" is not an http(s) URL');
    expect(failure({ env: { ...ENV, UPSTREAM_BASE_URL: 'ftp://api.zsxq.com' } })).toContain('is not an http(s) URL');
  });

  it('rejects a Redis URL that is not redis:// without printing it, since it may hold a password', () => {
    const message = failure({ env: { ...ENV, REDIS_URL: 'http://:Pw-7f3a9c2e@127.0.0.1:6379' } });
    expect(message).toBe('REDIS_URL: redis.url is not a redis:// or rediss:// URL');
    expect(message).not.toContain('Pw-7f3a9c2e');
  });

  it('rejects a file that is not valid JSON or not an object', () => {
    expect(failure({ file: configFile('{ "cache": ') })).toMatch(/^config\.json: not valid JSON \(.+\)$/);
    expect(failure({ file: configFile('[1, 2]') })).toBe('config.json: must hold a JSON object');
  });

  it('names the file and the section when a section is given a plain value', () => {
    // Convict reports every setting under the section as "missing from config, did you override its parent?".
    const message = failure({ file: configFile({ cache: 'zsxq' }) });
    expect(message).toMatch(/^config\.json: cache /);
    expect(message).not.toContain('configuration param');
  });

  it('reports a config file that cannot be read', () => {
    const path = join(dir, 'absent.json');
    expect(failure({ file: path })).toBe(`--config ${path}: cannot read the file (ENOENT)`);
  });

  it('puts several problems on one line', () => {
    const message = failure({ file: configFile({ jobs: { topics: { every: 'banana' } }, cache: { prefix: 'a b' } }) });
    expect(message).toContain('jobs.topics.every "banana"');
    expect(message).toContain('cache.prefix "a b"');
  });

  it('never prints the token, whatever else is wrong', () => {
    failure({ env: { ...ENV, UPSTREAM_TIMEOUT: 'banana' } });
    failure({ file: configFile({ upstream: { token: TOKEN, tokn: TOKEN } }) });
    const typed = failure({ file: configFile({ upstream: { token: 12345678 } }), env: { UPSTREAM_GROUP_ID: GID } });
    expect(typed).toBe('config.json: upstream.token must be of type String');
    failure({ file: configFile({ upstream: { token: TOKEN }, jobs: { topics: { every: 'banana' } } }) });
  });

  it('never prints the token of a config file that is not valid JSON', () => {
    // A common slip: the token in single quotes. V8's JSON.parse message quotes the text around the error.
    failure({ file: configFile(`{ "upstream": { "token": '${TOKEN}' } }`) });
    failure({ file: configFile(`{ "upstream": { "token": ${TOKEN} } }`) });
  });
});

describe('the memory settings', () => {
  it('reads MEMORY_HEAP_GROWTH and MEMORY_SEMI_SPACE_MB, 0 meaning V8’s own', () => {
    expect(load({ env: { ...ENV, MEMORY_HEAP_GROWTH: '30', MEMORY_SEMI_SPACE_MB: '2' } }).memory).toStrictEqual({ heapGrowthPercent: 30, semiSpaceMb: 2 });
    expect(load({ env: { ...ENV, MEMORY_HEAP_GROWTH: '0', MEMORY_SEMI_SPACE_MB: '0' } }).memory).toStrictEqual({ heapGrowthPercent: 0, semiSpaceMb: 0 });
    expect(load({ file: configFile({ memory: { heapGrowth: 30 } }) }).memory.heapGrowthPercent).toBe(30);
  });

  it('rejects a value that is not a whole number or is out of range, naming the setting', () => {
    for (const value of ['-5', '5000', 'lots', '2.5']) {
      const message = failure({ env: { ...ENV, MEMORY_HEAP_GROWTH: value } });
      expect(message, value).toContain('MEMORY_HEAP_GROWTH');
      expect(message, value).toContain(value);
      expect(message, value).toContain('must be a whole number from 0 to 1000');
    }
    // V8 doubles a semi-space from 1 to 16 MB: any other size could not be held.
    for (const value of ['3', '32', '2.5', '-1']) {
      const message = failure({ env: { ...ENV, MEMORY_SEMI_SPACE_MB: value } });
      expect(message, value).toContain('MEMORY_SEMI_SPACE_MB');
      expect(message, value).toContain('must be 1, 2, 4, 8 or 16 (MB), or 0 for V8’s own');
    }
    expect(failure({ file: configFile({ memory: { semiSpaceMb: 1.5 } }) })).toMatch(/memory\.semiSpaceMb.*must be 1, 2, 4, 8 or 16/);
  });
});

describe('the http settings', () => {
  const ADMIN = 'adm-7f3a9c2e5b1d4e6f8a0b';

  it('reads HTTP_ENABLED, HTTP_PORT, HTTP_HOST and HTTP_ADMIN_TOKEN', () => {
    const { http } = load({ env: { ...ENV, HTTP_ENABLED: 'false', HTTP_PORT: '0', HTTP_HOST: '0.0.0.0', HTTP_ADMIN_TOKEN: ADMIN } });
    expect({ ...http, adminToken: http.adminToken() }).toStrictEqual({ enabled: false, port: 0, host: '0.0.0.0', adminToken: ADMIN });
    expect(load({ env: { ...ENV, HTTP_ENABLED: '1', HTTP_PORT: '8080', HTTP_HOST: '::' } }).http).toMatchObject({ enabled: true, port: 8080, host: '::' });
  });

  it('reads them from a file too, the environment winning', () => {
    const file = configFile({ http: { port: 9100, host: 'localhost', enabled: false } });
    expect(load({ file }).http).toMatchObject({ port: 9100, host: 'localhost', enabled: false });
    expect(load({ file, env: { ...ENV, HTTP_PORT: '9200' } }).http.port).toBe(9200);
  });

  it('reads the admin token from HTTP_ADMIN_TOKEN_FILE, trimmed, when HTTP_ADMIN_TOKEN is not set', () => {
    const path = join(dir, 'admin_token');
    writeFileSync(path, `${ADMIN}\n`);
    expect(load({ env: { ...ENV, HTTP_ADMIN_TOKEN_FILE: path } }).http.adminToken()).toBe(ADMIN);
    expect(load({ env: { ...ENV, HTTP_ADMIN_TOKEN_FILE: path, HTTP_ADMIN_TOKEN: `${ADMIN}-env` } }).http.adminToken()).toBe(`${ADMIN}-env`);
  });

  it('registers the admin token as a secret, so that no log line can carry it', () => {
    // Unlike ADMIN (registered by the tests above), so that the whole value must be hidden.
    load({ env: { ...ENV, HTTP_ADMIN_TOKEN: 'env-admin-0d1e2f3a4b5c' } });
    expect(scrub('Authorization: Bearer env-admin-0d1e2f3a4b5c')).toBe('Authorization: Bearer [redacted]');
    const path = join(dir, 'admin_token');
    writeFileSync(path, 'file-admin-6a7b8c9d0e1f');
    load({ env: { ...ENV, HTTP_ADMIN_TOKEN_FILE: path } });
    expect(scrub('token file-admin-6a7b8c9d0e1f')).toBe('token [redacted]');
  });

  it('rejects a port that is not one, naming the variable, the setting and the value', () => {
    expect(failure({ env: { ...ENV, HTTP_PORT: '99999' } })).toBe('HTTP_PORT: http.port 99999 must be a TCP port, an integer from 0 to 65535 (0: any free port)');
    expect(failure({ env: { ...ENV, HTTP_PORT: '94 64' } })).toBe('HTTP_PORT: http.port "94 64" must be a TCP port, an integer from 0 to 65535 (0: any free port)');
    expect(failure({ env: { ...ENV, HTTP_PORT: '-1' } })).toContain('HTTP_PORT: http.port "-1" must be a TCP port');
    expect(failure({ file: configFile({ http: { port: 1.5 } }) })).toBe('config.json: http.port 1.5 must be a TCP port, an integer from 0 to 65535 (0: any free port)');
  });

  it('rejects a host with a port or spaces, a switch that is not true or false, and an unknown http setting', () => {
    expect(failure({ env: { ...ENV, HTTP_HOST: '127.0.0.1:9464 ' } })).toContain('HTTP_HOST: http.host "127.0.0.1:9464 " is not an address or host name to listen on');
    expect(failure({ env: { ...ENV, HTTP_ENABLED: 'maybe' } })).toBe('HTTP_ENABLED: http.enabled "maybe" must be true or false');
    expect(failure({ file: configFile({ http: { prot: 80 } }) })).toBe('config.json: http.prot is not a setting');
  });

  it('rejects a short admin token without printing it, and an admin token file that cannot be read', () => {
    const message = failure({ env: { ...ENV, HTTP_ADMIN_TOKEN: 'hunter2hunter' } });
    expect(message).toBe('http.adminToken: too short (13 characters; use at least 16, e.g. openssl rand -hex 32)');
    const missing = join(dir, 'no-admin-token');
    expect(failure({ env: { ...ENV, HTTP_ADMIN_TOKEN_FILE: missing } })).toBe(`http.adminTokenFile: cannot read ${missing} (ENOENT)`);
  });
});

describe('loadConfig for Redis Cluster and Sentinel', () => {
  const NODES = '127.0.0.1:7000, 127.0.0.1:7001,[::1]:7002';
  const SENTINEL_SECRET = 'sentinel-secret-5f0c1e9a';

  it('sends both roles to the cluster, with the credentials of their URL', () => {
    const { redis } = load({ env: { ...ENV, REDIS_URL: 'redis://warmer:pw-123456@ignored:6379', REDIS_CLUSTER_NODES: NODES } });
    const nodes = [
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7001 },
      { host: '::1', port: 7002 },
    ];
    expect(redis.queue).toEqual({ url: 'redis://warmer:pw-123456@ignored:6379', ca: undefined, cluster: nodes });
    expect(redis.cache).toEqual(redis.queue);
    expect(redis.shared).toBe(true);
  });

  it('sends only the role REDIS_CLUSTER_FOR names to the cluster; the other keeps its URL', () => {
    const { redis } = load({ env: { ...ENV, REDIS_QUEUE_URL: 'redis://queue:6379', REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_CLUSTER_FOR: 'cache' } });
    expect(redis.queue).toEqual({ url: 'redis://queue:6379', ca: undefined });
    expect(redis.cache.cluster).toEqual([{ host: '10.0.0.1', port: 7000 }]);
    expect(redis.shared).toBe(false);
  });

  it('connects through sentinels by master name, and keeps their password a secret', () => {
    const { redis } = load({
      env: { ...ENV, REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET, REDIS_SENTINEL_FOR: 'queue' },
    });
    expect(redis.queue.sentinel).toEqual({ nodes: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], name: 'mymaster', password: SENTINEL_SECRET });
    expect(redis.cache.sentinel).toBeUndefined();
    expect(scrub(`auth ${SENTINEL_SECRET}`)).not.toContain(SENTINEL_SECRET);
  });

  it('accepts a cluster for one role and sentinels for the other', () => {
    const { redis } = load({
      env: { ...ENV, REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_CLUSTER_FOR: 'cache', REDIS_SENTINELS: '10.0.0.2:26379', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_FOR: 'queue' },
    });
    expect(redis.cache.cluster).toHaveLength(1);
    expect(redis.queue.sentinel?.name).toBe('m');
  });

  it('refuses a node list entry that is not host:port, naming the variable and the entry', () => {
    expect(failure({ env: { ...ENV, REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:notaport' } })).toMatch(/REDIS_CLUSTER_NODES.*"127\.0\.0\.1:notaport" is not host:port/);
    expect(failure({ env: { ...ENV, REDIS_SENTINELS: '127.0.0.1:70000' } })).toMatch(/REDIS_SENTINELS.*"127\.0\.0\.1:70000" is not host:port/);
  });

  it('refuses a role given both a cluster and sentinels, and sentinels without a master name', () => {
    expect(failure({ env: { ...ENV, REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_SENTINELS: '10.0.0.2:26379', REDIS_SENTINEL_NAME: 'm' } })).toMatch(
      /cannot use both REDIS_CLUSTER_NODES and REDIS_SENTINELS/,
    );
    expect(failure({ env: { ...ENV, REDIS_SENTINELS: '10.0.0.2:26379' } })).toMatch(/REDIS_SENTINEL_NAME/);
    expect(failure({ env: { ...ENV, REDIS_CLUSTER_FOR: 'everything' } })).toMatch(/REDIS_CLUSTER_FOR/);
  });
});
