import { keyFamilies, keySpace, projectSelector, type KeyFamily, type KeySelector, type KeySpace } from '../cache/admin.js';
import type { Config } from '../../config/load.js';
import type { ParsedJob } from '../definition/parse.js';
import { queuePrefix } from '../runtime.js';
import type { KeyTarget } from './args.js';

/** What `keys` and `clear` need to find their keys: the key space, the job templates and the selector. */
export interface ResolvedTarget {
  space: KeySpace;
  families: KeyFamily[];
  selector: KeySelector;
  /** For messages: `zsxq:project:123:*` or `project 123`. */
  description: string;
  /** For JSON output: the target as given. */
  json: { pattern: string } | { project: string };
}

export function resolveTarget(target: KeyTarget, jobs: readonly ParsedJob[], config: Config): ResolvedTarget {
  const prefix = config.cache.prefix;
  const families = keyFamilies(prefix, jobs);
  const space = keySpace(prefix, queuePrefix(config));
  if ('project' in target) {
    return { space, families, selector: projectSelector(target.project, families), description: `project ${target.project}`, json: { project: target.project } };
  }
  return { space, families, selector: { glob: target.pattern }, description: `${prefix}:${target.pattern}`, json: { pattern: target.pattern } };
}

/** A hint when nothing matched because PATTERN repeated the prefix (`zsxq:project:*` instead of `project:*`). */
export function prefixHint(target: KeyTarget, prefix: string): string | undefined {
  if (!('pattern' in target) || !target.pattern.startsWith(`${prefix}:`)) return undefined;
  return `PATTERN is relative to the prefix: try '${target.pattern.slice(prefix.length + 1)}'`;
}
