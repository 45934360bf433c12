import { DURATION_HINT, parseDuration } from '../src/shared/duration.js';
import { isIdString } from '../src/shared/ids.js';
import { isTimeZone } from '../src/shared/time.js';
import { cronError } from '../src/schedule/cron.js';
import type { HostPort } from '../src/shared/redis.js';

const SWITCH_WORDS = { true: true, false: false, '1': true, '0': false } as const;

/** A whole number from 0 to `max`; only plain digits become a number, so that "2.5" is refused, not cut to 2. */
function wholeNumber(max: number, unit: string) {
  return {
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
        throw new Error(`must be a whole number from 0 to ${max} (${unit})`);
      }
    },
    coerce: (value: string) => (/^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : value),
  };
}

/**
 * convict formats. Each throws an Error whose message completes the sentence
 * "<setting> …", so that the loader can print `<source>: <setting> "<value>" <message>`.
 */
export const formats = {
  duration: {
    validate(value: unknown) {
      if (parseDuration(value) === undefined) throw new Error(`is not a duration (${DURATION_HINT})`);
    },
  },
  'positive-duration': {
    validate(value: unknown) {
      const ms = parseDuration(value);
      if (ms === undefined) throw new Error(`is not a duration (${DURATION_HINT})`);
      if (ms <= 0) throw new Error('must be greater than zero');
    },
  },
  cron: {
    validate(value: unknown) {
      if (typeof value !== 'string') throw new Error('is not a cron expression');
      const problem = cronError(value);
      if (problem) throw new Error(`is not a valid cron expression (${problem})`);
    },
  },
  'non-negative-number': {
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error('must be a number >= 0');
    },
    coerce: (value: string) => Number(value),
  },
  'http-url': {
    validate(value: unknown) {
      let url: URL | undefined;
      try {
        url = new URL(String(value));
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new Error('is not an http(s) URL');
    },
  },
  'redis-url': {
    validate(value: unknown) {
      let url: URL | undefined;
      try {
        url = new URL(String(value));
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
        throw new Error('is not a redis:// or rediss:// URL');
      }
    },
  },
  'host-port-list': {
    validate(value: unknown) {
      if (value === '') return; // not set: a single Redis from the URL
      parseHostPortList(String(value));
    },
  },
  'decimal-id': {
    validate(value: unknown) {
      if (value === '') return; // "missing" is reported by the loader, with the variable to set
      if (!isIdString(value)) throw new Error('is not a decimal id');
    },
  },
  'time-zone': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !isTimeZone(value)) throw new Error('is not an IANA time zone (e.g. Asia/Shanghai)');
    },
  },
  'tcp-port': {
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
        throw new Error('must be a TCP port, an integer from 0 to 65535 (0: any free port)');
      }
    },
    // Only a plain integer becomes a number, so that the message quotes what was given ("9464x", not NaN).
    coerce: (value: string) => (/^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : value),
  },
  'heap-growth': wholeNumber(1_000, 'a percentage; 0: V8’s own'),
  'semi-space-mb': {
    // V8 doubles a semi-space from 1 MB up to 16 MB: other sizes cannot be held.
    validate(value: unknown) {
      if (typeof value !== 'number' || ![0, 1, 2, 4, 8, 16].includes(value)) throw new Error('must be 1, 2, 4, 8 or 16 (MB), or 0 for V8’s own');
    },
    coerce: (value: string) => (/^\d{1,3}$/.test(value.trim()) ? Number(value.trim()) : value),
  },
  'listen-host': {
    validate(value: unknown) {
      // An IPv4 or IPv6 address or a host name: what server.listen() accepts, without spaces or a port.
      if (typeof value !== 'string' || !/^(?:[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45})$/.test(value)) {
        throw new Error('is not an address or host name to listen on (e.g. 127.0.0.1, 0.0.0.0, ::)');
      }
    },
  },
  switch: {
    validate(value: unknown) {
      if (typeof value !== 'boolean') throw new Error('must be true or false');
    },
    // convict's own Boolean reads anything but "false" as true ("no", "0", "off" would enable).
    coerce: (value: string) => (SWITCH_WORDS as Record<string, boolean>)[value.trim().toLowerCase()] ?? value,
  },
  'key-prefix': {
    validate(value: unknown) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9_.\-:{}]{1,64}$/.test(value)) {
        throw new Error('must be 1-64 characters of letters, digits, _ . - : { }');
      }
    },
  },
  scopes: {
    validate(value: unknown) {
      const allowed = ['ongoing', 'closed', 'over'];
      if (!Array.isArray(value) || value.length === 0 || value.some((s) => !allowed.includes(s))) {
        throw new Error(`must be a non-empty list of ${allowed.join(', ')}`);
      }
    },
    coerce: (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean),
  },
} as const;

/**
 * `host:port[,host:port…]` (REDIS_CLUSTER_NODES, REDIS_SENTINELS); an IPv6
 * host in brackets (`[::1]:7000`). Throws a message naming the bad entry.
 */
export function parseHostPortList(text: string): HostPort[] {
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.map((entry) => {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port < 1 || port > 65_535) {
      throw new Error(`entry "${entry.slice(0, 100)}" is not host:port (e.g. 10.0.0.1:7000); separate entries with commas`);
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}
