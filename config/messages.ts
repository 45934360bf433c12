import type { buildSchema } from './schema.js';

/** Where a JSON syntax error is, without quoting the text around it (which may hold a token). */
export function jsonErrorPosition(text: string, error: unknown): string {
  const match = /position (\d+)/.exec(String((error as Error).message));
  if (!match) return 'unexpected end or token';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/** Turns convict's message into one line: `<source>: <setting> "<value>" <problem>`. */
export function describeValidation(
  message: string,
  schema: ReturnType<typeof buildSchema>,
  env: NodeJS.ProcessEnv,
  fileName: string | undefined,
  fileData: Record<string, unknown> | undefined,
  jobNames: readonly string[],
): string {
  const lines = message.split('\n').filter(Boolean);
  const described = lines.map((line) => {
    const overridden = /^configuration param '(.+)' missing from config, did you override its parent\?$/.exec(line);
    if (overridden) {
      // A section given a plain value (`"cache": "zsxq"`): name the section once.
      const top = overridden[1]!.split('.')[0]!;
      const job = /^jobs\.([^.]+)\./.exec(overridden[1]!);
      const parent = job && jobNames.includes(job[1]!) && fileHas(fileData, 'jobs') && typeof fileData?.jobs === 'object' && fileData.jobs !== null ? `jobs.${job[1]}` : top;
      return `${fileName ?? 'config'}: ${parent} must be an object`;
    }
    const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const setting = undeclared[1]!;
      const job = /^jobs\.([^.]+)(\.|$)/.exec(setting);
      if (job && !jobNames.includes(job[1]!)) {
        return `${fileName ?? 'config'}: jobs.${job[1]} is not a job (valid: ${jobNames.join(', ')})`;
      }
      return `${fileName ?? 'config'}: ${setting} is not a setting`;
    }
    const invalid = /^([\w.-]+): (.*?)(?:: value was (.*))?$/.exec(line);
    if (!invalid) return line;
    const [, setting, problem, value] = invalid;
    const envName = envOf(schema, setting!);
    const source = envName && env[envName] !== undefined ? envName : fileHas(fileData, setting!) ? fileName! : 'default';
    return `${source}: ${setting}${value ? ` ${value}` : ''} ${problem!.trim()}`;
  });
  const unique = [...new Set(described)];
  // "cache must be an object" makes "cache is not a setting" redundant.
  return unique.filter((line) => !unique.some((other) => other !== line && other.endsWith(' must be an object') && line === other.replace(' must be an object', ' is not a setting'))).join('; ');
}

function envOf(schema: ReturnType<typeof buildSchema>, setting: string): string | undefined {
  let node: unknown = schema;
  for (const part of setting.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  const envName = (node as { env?: unknown } | undefined)?.env;
  return typeof envName === 'string' ? envName : undefined;
}

function fileHas(data: Record<string, unknown> | undefined, setting: string): boolean {
  let node: unknown = data;
  for (const part of setting.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false;
    node = (node as Record<string, unknown>)[part];
  }
  return true;
}
