import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, serializeError } from '../../src/shared/logger.js';
import { forgetSecrets, redactUrl, registerSecret, scrub } from '../../src/shared/secrets.js';
import { ConfigError, WarmerError, describeError } from '../../src/shared/errors.js';

const TOKEN = '8D0689E0-C534-4673-BDF4-B4DE4B9C55C1_C7FC4C169922C77C';

afterEach(() => {
  forgetSecrets();
});

/** A pino destination that keeps each written line. */
function collect(): { lines: string[]; records: () => Record<string, any>[]; write(line: string): void } {
  const lines: string[] = [];
  return {
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, any>),
    write(line: string) {
      lines.push(line);
    },
  };
}

describe('serializeError', () => {
  it('keeps the type, code and message of an error', () => {
    expect(serializeError(new WarmerError('ERR_UPSTREAM_AUTH', 'the upstream refused the token (401)'))).toStrictEqual({
      type: 'WarmerError',
      message: 'the upstream refused the token (401)',
      code: 'ERR_UPSTREAM_AUTH',
    });
    expect(serializeError(new ConfigError('bad'))).toStrictEqual({ type: 'ConfigError', message: 'bad', code: 'ERR_CONFIG' });
    expect(serializeError(new TypeError('nope'))).toStrictEqual({ type: 'TypeError', message: 'nope' });
  });

  it('keeps a numeric code', () => {
    const error = Object.assign(new Error('business failure'), { code: 1059 });
    expect(serializeError(error)).toStrictEqual({ type: 'Error', message: 'business failure', code: 1059 });
  });

  it('never carries enumerable extras such as a request’s headers or a response', () => {
    const error = Object.assign(new Error('GET failed'), {
      code: 'ERR_NON_2XX',
      options: { headers: { authorization: TOKEN } },
      response: { body: 'x'.repeat(10_000) },
    });
    const out = serializeError(error);
    expect(out).toStrictEqual({ type: 'Error', message: 'GET failed', code: 'ERR_NON_2XX' });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
  });

  it('keeps the chain of causes, each reduced the same way', () => {
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', headers: { authorization: TOKEN } });
    const error = new WarmerError('ERR_UPSTREAM_NETWORK', 'the upstream did not answer', { cause: root });
    expect(serializeError(error)).toStrictEqual({
      type: 'WarmerError',
      message: 'the upstream did not answer',
      code: 'ERR_UPSTREAM_NETWORK',
      cause: { type: 'Error', message: 'socket hang up', code: 'ECONNRESET' },
    });
  });

  it('stops on a cause cycle instead of looping forever', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const out = JSON.stringify(serializeError(a));
    expect(out.length).toBeLessThan(1000);
    expect(out).toContain('"message":"b"');
  });

  it('scrubs registered secrets from messages, also of causes', () => {
    registerSecret(TOKEN);
    const error = new Error(`token ${TOKEN} rejected`, { cause: new Error(`header authorization: ${TOKEN}`) });
    const text = JSON.stringify(serializeError(error));
    expect(text).not.toContain(TOKEN);
    expect(text).toContain('token [redacted] rejected');
    expect(text).toContain('header authorization: [redacted]');
  });

  it('keeps a thrown string, scrubbed, and describes anything else vaguely', () => {
    registerSecret(TOKEN);
    expect(serializeError(`boom ${TOKEN}`)).toBe('boom [redacted]');
    expect(serializeError({ authorization: TOKEN })).toBe('non-error thrown');
    expect(serializeError(undefined)).toBe('non-error thrown');
  });
});

describe('createLogger', () => {
  it('writes JSON lines at and above its level only', () => {
    const out = collect();
    const logger = createLogger('info', out);
    logger.debug('hidden');
    logger.info({ job: 'topics' }, 'refreshed');
    logger.warn('slow');
    const records = out.records();
    expect(records.map((r) => r.msg)).toEqual(['refreshed', 'slow']);
    expect(records[0]).toMatchObject({ level: 30, job: 'topics', msg: 'refreshed', pid: process.pid });
    expect(typeof records[0]!.time).toBe('string');
    expect(Number.isNaN(Date.parse(records[0]!.time))).toBe(false);
  });

  it('scrubs a registered secret from a log line wherever it appears', () => {
    registerSecret(TOKEN);
    const out = collect();
    const logger = createLogger('info', out);
    logger.info({ headers: { authorization: TOKEN }, url: `https://api.example/x?token=${encodeURIComponent(TOKEN)}` }, `calling with ${TOKEN}`);
    logger.child({ job: 'topics' }).warn({ token: TOKEN }, 'retrying');
    expect(out.lines).toHaveLength(2);
    for (const line of out.lines) expect(line).not.toContain(TOKEN);
    const [first, second] = out.records();
    expect(first!.msg).toBe('calling with [redacted]');
    expect(first!.headers.authorization).toBe('[redacted]');
    expect(second!.token).toBe('[redacted]');
  });

  it('scrubs the URL-encoded form of a secret', () => {
    const password = 'p@ss/w0rd!x';
    registerSecret(password);
    const out = collect();
    createLogger('info', out).info({ url: `redis://:${encodeURIComponent(password)}@127.0.0.1:6379` }, 'connecting');
    expect(out.lines[0]).not.toContain(encodeURIComponent(password));
    expect(out.records()[0]!.url).toBe('redis://:[redacted]@127.0.0.1:6379');
  });

  it('logs an error through serializeError: no enumerable extras, causes kept, secrets scrubbed', () => {
    registerSecret(TOKEN);
    const out = collect();
    const logger = createLogger('info', out);
    const cause = Object.assign(new Error(`401 for ${TOKEN}`), { code: 'ERR_NON_2XX', request: { headers: { authorization: TOKEN } } });
    logger.error({ err: new WarmerError('ERR_UPSTREAM_AUTH', 'token rejected', { cause }) }, 'refresh failed');
    logger.error(Object.assign(new Error('direct'), { options: { secret: 'x' } }));
    expect(out.lines.join('')).not.toContain(TOKEN);
    const [first, second] = out.records();
    expect(first!.err).toStrictEqual({
      type: 'WarmerError',
      message: 'token rejected',
      code: 'ERR_UPSTREAM_AUTH',
      cause: { type: 'Error', message: '401 for [redacted]', code: 'ERR_NON_2XX' },
    });
    expect(second!.err).toStrictEqual({ type: 'Error', message: 'direct' });
  });

  it('writes nothing when silent', () => {
    const out = collect();
    createLogger('silent', out).fatal('nothing');
    expect(out.lines).toEqual([]);
  });
});

describe('secrets', () => {
  it('ignores values too short to be secrets, which would mask ordinary words', () => {
    registerSecret('abc');
    registerSecret('');
    registerSecret(undefined);
    expect(scrub('abc abcd')).toBe('abc abcd');
  });

  it('forgets registered secrets', () => {
    registerSecret(TOKEN);
    forgetSecrets();
    expect(scrub(TOKEN)).toBe(TOKEN);
  });

  it('redacts the password of a URL for display', () => {
    expect(redactUrl('redis://:hunter22@127.0.0.1:6379/0')).toBe('redis://:***@127.0.0.1:6379/0');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('not a url')).toBe('[unparsable url]');
  });
});

describe('describeError', () => {
  it('gives code and message of our errors, only name and code of others', () => {
    expect(describeError(new ConfigError('bad value'))).toBe('ERR_CONFIG: bad value');
    expect(describeError(Object.assign(new Error(`secret ${TOKEN}`), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED: Error');
    expect(describeError(new RangeError(`secret ${TOKEN}`))).toBe('RangeError');
    expect(describeError('thrown string')).toBe('unknown error');
  });
});
