import { KeyError } from '../shared/errors.js';
import { isIdString } from '../shared/ids.js';

/**
 * Key templates such as `project:{id}:leaderboard:{type}`, compiled once.
 * Every value placed in a key is checked here, whatever its source: `{id}`
 * must be decimal digits and any other placeholder a short word, so no
 * upstream value can add a `:` segment, a glob or a space to a key.
 */
export interface KeyTemplate {
  readonly template: string;
  readonly placeholders: readonly string[];
  build(prefix: string, params: Readonly<Record<string, string>>): string;
}

const PLACEHOLDER = /\{([a-z_]+)\}/g;
const LITERAL = /^[a-z0-9_:-]*$/;
const WORD = /^[a-z0-9_-]{1,32}$/i;

export function compileKeyTemplate(template: string): KeyTemplate {
  const placeholders = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  const literal = template.replace(PLACEHOLDER, '');
  if (!template || !LITERAL.test(literal) || template.startsWith(':')) {
    throw new KeyError(`key template "${template}" may hold only a-z, 0-9, _, -, : and {placeholders}`);
  }
  if (new Set(placeholders).size !== placeholders.length) {
    throw new KeyError(`key template "${template}" repeats a placeholder`);
  }
  return {
    template,
    placeholders,
    build(prefix, params) {
      return `${prefix}:${template.replace(PLACEHOLDER, (_, name: string) => {
        const value = params[name];
        if (value === undefined) throw new KeyError(`key "${template}": no value for {${name}}`);
        const ok = name === 'id' ? isIdString(value) : WORD.test(value);
        if (!ok) throw new KeyError(`key "${template}": {${name}} ${JSON.stringify(value.slice(0, 40))} is not allowed`);
        return value;
      })}`;
    },
  };
}

/**
 * `{prefix}`: a Redis Cluster hash tag. Every internal key starts with it, so
 * they all hash to one slot: the status store's script, BullMQ's scripts and
 * the fan-out's marks touch several of them at once, which a cluster allows
 * only within one slot. The warmed keys carry no tag and spread over every
 * master. The same names are used on a single Redis, so that moving to a
 * cluster changes no key.
 */
export const hashTag = (prefix: string) => `{${prefix}}`;

/** Internal keys of the warmer (status store, rate limiter, deleted projects), under the tagged prefix. */
export const internalKeys = {
  status: (prefix: string, job: string) => `${hashTag(prefix)}:status:${job}`,
  statusBuckets: (prefix: string, job: string) => `${hashTag(prefix)}:status:${job}:buckets`,
  statusJobs: (prefix: string) => `${hashTag(prefix)}:status:jobs`,
  /** Projects found deleted upstream, left out of the fan-out. */
  goneProjects: (prefix: string) => `${hashTag(prefix)}:projects:gone`,
  /** The fleet-wide upstream rate limiter's reservations (limit/upstream-limiter.ts). */
  upstreamRateLimit: (prefix: string) => `${hashTag(prefix)}:ratelimit:upstream`,
} as const;
