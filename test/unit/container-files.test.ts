/**
 * No Docker engine runs where the tests run, so the Dockerfile and
 * docker-compose.yml are checked statically for what matters (stages, user,
 * signals, health, the two Redis policies, the secret, the grace period), and
 * where a part can run without Docker it is run for real: the HEALTHCHECK
 * command against a loopback HTTP server, the Redis command lines with
 * redis-server. Compose is read as text by indentation (there is no YAML
 * parser among the dependencies); the file keeps to block style for that.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSchema } from '../../config/schema.js';
import { parseDuration } from '../../src/shared/duration.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  body: Instruction[];
}

/** Instructions by stage: comment lines dropped, continuation lines joined. */
function dockerStages(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line.trim()).trim();
    pending = '';
    if (full) logical.push(full);
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, image = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ image, name, body: [] });
    } else {
      expect(stages.length, `${op} before any FROM`).toBeGreaterThan(0);
      stages[stages.length - 1]!.body.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const all = (stage: Stage, op: string) => stage.body.filter((i) => i.op === op);
const last = (stage: Stage, op: string) => all(stage, op).at(-1);

/** An exec-form argument list, `["node", "x.js"]`: shell form has no JSON array. */
function execForm(args: string): string[] {
  expect(args.startsWith('['), `exec form expected, got: ${args}`).toBe(true);
  const parsed = JSON.parse(args) as unknown;
  expect(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')).toBe(true);
  return parsed as string[];
}

/** The top-level directories the daemon's code imports from (relative imports leaving src/, config/, jobs/), plus jobs/ (loaded at run time). */
function runtimeSourceDirs(): Set<string> {
  const dirs = new Set(['src', 'jobs']);
  const visit = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir))) {
      const path = join(dir, entry);
      if (statSync(join(ROOT, path)).isDirectory()) visit(path);
      else if (path.endsWith('.ts')) {
        for (const m of read(path).matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
          const target = relative(ROOT, resolve(ROOT, dirname(path), m[1]!));
          const top = target.split(/[\\/]/)[0]!;
          if (!dirs.has(top)) {
            dirs.add(top);
            visit(top);
          }
        }
      }
    }
  };
  visit('src');
  visit('jobs');
  return dirs;
}

// ------------------------------------------------------------------- compose

const indentOf = (line: string) => line.length - line.trimStart().length;

/** Lines without comments and blank lines. */
function meaningful(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() && !/^\s*#/.test(l));
}

/** The lines nested under `key:` at `indent` (children only), or undefined when the key is absent. */
function section(lines: readonly string[], key: string, indent: number): string[] | undefined {
  const start = lines.findIndex((l) => indentOf(l) === indent && new RegExp(`^\\s*${key.replace(/[-.]/g, '\\$&')}:(\\s|$)`).test(l));
  if (start < 0) return undefined;
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (indentOf(line) <= indent) break;
    out.push(line);
  }
  return out;
}

/** `key: value` at exactly `indent`, the value without quotes. */
function scalar(lines: readonly string[], key: string, indent: number): string | undefined {
  const line = lines.find((l) => indentOf(l) === indent && l.trimStart().startsWith(`${key}:`));
  const value = line?.trimStart().slice(key.length + 1).trim();
  return value?.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
}

/** The child keys at `indent` of a section. */
function keysAt(lines: readonly string[], indent: number): string[] {
  return lines.filter((l) => indentOf(l) === indent && /^\s*[\w.-]+:/.test(l)).map((l) => l.trim().split(':')[0]!);
}

/** A block or flow list (`- a` lines, or `[a, b]` on the key's line). */
function listOf(lines: readonly string[], key: string, indent: number): string[] {
  const flow = scalar(lines, key, indent);
  if (flow && flow.startsWith('[')) return flow.slice(1, -1).split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
  return (section(lines, key, indent) ?? []).filter((l) => l.trim().startsWith('- ')).map((l) => l.trim().slice(2).replace(/^"(.*)"$/, '$1'));
}

/** A compose (Go) duration such as `30s`, `1m30s`, `90s`, in ms. */
function composeDuration(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  const parts = [...text.matchAll(/(\d+)(ms|h|m|s)/g)];
  expect(parts.map((p) => p[0]).join(''), `duration ${text}`).toBe(text);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

function composeServices(): Map<string, string[]> {
  const lines = meaningful(read('docker-compose.yml'));
  const services = section(lines, 'services', 0);
  expect(services, 'a services section').toBeDefined();
  return new Map(keysAt(services!, 2).map((name) => [name, section(services!, name, 2)!]));
}

/** The environment variable names the configuration reads. */
function configEnvNames(): Set<string> {
  const names = new Set<string>();
  const walk = (node: unknown) => {
    if (typeof node !== 'object' || node === null) return;
    const env = (node as { env?: unknown }).env;
    if (typeof env === 'string') names.add(env);
    for (const child of Object.values(node)) walk(child);
  };
  walk(buildSchema(['topics']));
  return names;
}

// --------------------------------------------------------------------- tests

describe('the Dockerfile', () => {
  const stages = dockerStages(read('Dockerfile'));
  const runtime = stages.at(-1)!;

  it('builds in separate stages and ships a slim node 20 image with production dependencies and compiled code only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.image).toMatch(/^node:20[.\w-]*-slim$/);
    // Compiled in a build stage.
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\btsc\b/.test(r.args)));
    expect(build, 'a stage running tsc').toBeDefined();
    expect(build).not.toBe(runtime);
    // node_modules come from a stage that installed without dev dependencies.
    const modules = all(runtime, 'COPY').filter((c) => /\bnode_modules\b/.test(c.args));
    expect(modules).toHaveLength(1);
    const from = /--from=(\S+)/.exec(modules[0]!.args)?.[1];
    const source = stages.find((s) => s.name === from);
    expect(source, `stage ${from}`).toBeDefined();
    expect(all(source!, 'RUN').some((r) => /\bnpm (ci|prune)\b.*--omit=dev/.test(r.args))).toBe(true);
    // No sources, no tests, no build context wholesale in the runtime image.
    for (const copy of all(runtime, 'COPY')) {
      expect(copy.args, 'COPY into the runtime stage').not.toMatch(/^\.\s|\s\.\s+\.$|^(src|test|jobs|config)\b/);
      expect(copy.args).not.toMatch(/secrets/);
    }
    expect(all(runtime, 'RUN').some((r) => /npm (i|install|ci)\b(?!.*--omit=dev)/.test(r.args)), 'dev dependencies installed at runtime').toBe(false);
  });

  it('copies into the runtime stage every compiled directory the daemon imports, and their sources into the build', () => {
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\btsc\b/.test(r.args)))!;
    const dirs = runtimeSourceDirs();
    expect([...dirs].sort()).toEqual(expect.arrayContaining(['config', 'jobs', 'src']));
    for (const dir of dirs) {
      expect(all(build, 'COPY').some((c) => new RegExp(`^${dir}\\s`).test(c.args)), `COPY ${dir} into the build stage`).toBe(true);
      expect(all(runtime, 'COPY').some((c) => c.args.includes(`dist/${dir} `) || c.args.endsWith(`dist/${dir}`)), `dist/${dir} in the runtime stage`).toBe(true);
    }
    // "type": "module": without package.json next to dist/, node would read the .js files as CommonJS.
    expect(all(runtime, 'COPY').some((c) => /package\.json/.test(c.args))).toBe(true);
    expect(JSON.parse(read('package.json')).type).toBe('module');
  });

  it('runs as a user other than root, with node itself as the exec-form entrypoint and run as the default command', () => {
    const user = last(runtime, 'USER');
    expect(user, 'a USER in the runtime stage').toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    const body = runtime.body.map((i) => i.op);
    expect(body.lastIndexOf('USER')).toBeLessThan(body.indexOf('ENTRYPOINT'));
    expect(execForm(last(runtime, 'ENTRYPOINT')!.args)).toEqual(['node', 'dist/src/cli/main.js']);
    expect(execForm(last(runtime, 'CMD')!.args)).toEqual(['run']);
    // The entrypoint exists where the image puts it (same layout as the checkout's dist/).
    expect(statSync(join(ROOT, 'dist/src/cli/main.js')).isFile()).toBe(true);
  });

  it('listens on all interfaces inside the container', () => {
    const env = all(runtime, 'ENV').map((e) => e.args).join(' ');
    expect(env).toMatch(/\bHTTP_HOST=0\.0\.0\.0\b/);
    expect(configEnvNames()).toContain('HTTP_HOST');
  });

  it('never sends secrets, .env or host builds into the build context', () => {
    const ignored = meaningful(read('.dockerignore')).map((l) => l.trim().replace(/\/$/, ''));
    for (const entry of ['secrets', '.env', 'node_modules', 'dist', '.git']) expect(ignored, `.dockerignore`).toContain(entry);
  });
});

describe('the HEALTHCHECK command', () => {
  const runtime = dockerStages(read('Dockerfile')).at(-1)!;
  const healthcheck = last(runtime, 'HEALTHCHECK')!;
  let server: Server | undefined;

  afterEach(async () => {
    if (server?.listening) {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    }
    server = undefined;
  });

  /** The exec-form command after CMD, and the option flags before it. */
  function command(): { options: string; argv: string[] } {
    expect(healthcheck, 'a HEALTHCHECK in the runtime stage').toBeDefined();
    const at = healthcheck.args.indexOf('CMD ');
    expect(at).toBeGreaterThanOrEqual(0);
    return { options: healthcheck.args.slice(0, at), argv: execForm(healthcheck.args.slice(at + 4).trim()) };
  }

  /** Runs the command as Docker would inside the container, with HTTP_PORT set; its exit code. */
  async function probe(port: number): Promise<number> {
    const [file, ...args] = command().argv;
    expect(file).toBe('node');
    return new Promise((done) => {
      execFile(process.execPath, args, { env: { PATH: process.env.PATH ?? '', HTTP_PORT: String(port) }, timeout: 15_000 }, (error) => {
        done(error ? ((error as { code?: unknown }).code as number) ?? -1 : 0);
      });
    });
  }

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ port: number; paths: string[] }> {
    const paths: string[] = [];
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      handler!(req, res);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, paths };
  }

  it('uses node (no curl in slim images), with a timeout and a start period', () => {
    const { options } = command();
    expect(options).toMatch(/--timeout=\d+s/);
    expect(options).toMatch(/--start-period=\d+s/);
    expect(healthcheck.args).toContain('/healthz');
    expect(healthcheck.args).toContain('127.0.0.1');
  });

  it('passes when GET /healthz answers 200', async () => {
    const { port, paths } = await serve((_, res) => res.writeHead(200).end('ok'));
    expect(await probe(port)).toBe(0);
    expect(paths).toEqual(['/healthz']);
  });

  it('fails when /healthz answers 503', async () => {
    const { port } = await serve((_, res) => res.writeHead(503).end('stuck'));
    expect(await probe(port)).toBe(1);
  });

  it('fails when nothing listens', async () => {
    const { port } = await serve((_, res) => res.end());
    server!.close();
    await once(server!, 'close');
    expect(await probe(port)).toBe(1);
  });

  it('fails, within its own timeout, when the daemon accepts but never answers', async () => {
    const { port } = await serve(() => undefined);
    const started = Date.now();
    expect(await probe(port)).toBe(1);
    const timeoutS = Number(/--timeout=(\d+)s/.exec(command().options)![1]);
    expect(Date.now() - started).toBeLessThan(timeoutS * 1000);
  });
});

describe('docker-compose.yml', () => {
  const services = composeServices();
  const composeLines = meaningful(read('docker-compose.yml'));
  const redis = [...services].filter(([, block]) => /^redis:/.test(scalar(block, 'image', 4) ?? ''));
  const commandOf = (block: string[]) => JSON.parse(scalar(block, 'command', 4) ?? '[]') as string[];
  const argAfter = (argv: string[], flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const queue = redis.find(([, b]) => argAfter(commandOf(b), '--maxmemory-policy') === 'noeviction');
  const cache = redis.find(([, b]) => /^(allkeys|volatile)-lru$/.test(argAfter(commandOf(b), '--maxmemory-policy') ?? ''));
  const daemon = [...services].find(([, block]) => scalar(block, 'build', 4) === '.');
  let started: RedisServer | undefined;

  afterEach(async () => {
    await started?.stop();
    started = undefined;
  });

  it('runs two Redis instances: a queue Redis that never evicts and keeps an AOF, a cache Redis with a memory limit and LRU eviction', () => {
    expect(redis).toHaveLength(2);
    expect(queue, 'a Redis with --maxmemory-policy noeviction').toBeDefined();
    expect(cache, 'a Redis with --maxmemory-policy allkeys-lru or volatile-lru').toBeDefined();
    const queueArgs = commandOf(queue![1]);
    expect(argAfter(queueArgs, '--appendonly')).toBe('yes');
    expect(listOf(queue![1], 'volumes', 4).some((v) => v.endsWith(':/data')), 'the AOF on a volume').toBe(true);
    expect(argAfter(commandOf(cache![1]), '--maxmemory')).toMatch(/^\d+(mb|gb)$/);
  });

  it('gives redis-server command lines it accepts, with the intended policies', async () => {
    for (const [name, block] of [queue!, cache!]) {
      const [binary, ...args] = commandOf(block);
      expect(binary).toBe('redis-server');
      started = await startRedisServer(args);
      const client = new Redis(started.url, { maxRetriesPerRequest: 1 });
      try {
        const config: Record<string, string> = {};
        for (const setting of ['maxmemory-policy', 'appendonly', 'maxmemory']) {
          const [, value] = (await client.config('GET', setting)) as string[];
          config[setting] = value!;
        }
        expect(config['maxmemory-policy'], name).toBe(argAfter(args, '--maxmemory-policy'));
        if (name === queue![0]) expect(config.appendonly).toBe('yes');
        else expect(Number(config.maxmemory)).toBe(256 * 1024 * 1024);
      } finally {
        client.disconnect();
        await started.stop();
        started = undefined;
      }
    }
  });

  it('publishes no Redis port to the host, and checks each Redis with redis-cli ping', () => {
    for (const [name, block] of redis) {
      expect(section(block, 'ports', 4), `ports of ${name}`).toBeUndefined();
      expect(scalar(block, 'network_mode', 4), `network_mode of ${name}`).toBeUndefined();
      expect(section(block, 'healthcheck', 4)?.join('\n'), `healthcheck of ${name}`).toMatch(/redis-cli ping/);
      expect(scalar(block, 'restart', 4)).toBe('unless-stopped');
    }
  });

  it('points the daemon at the two Redis services by the configuration’s variable names, after both are healthy', () => {
    expect(daemon, 'a service built from the Dockerfile').toBeDefined();
    const [, block] = daemon!;
    const env = section(block, 'environment', 4)!;
    expect(scalar(env, 'REDIS_QUEUE_URL', 6)).toBe(`redis://${queue![0]}:6379`);
    expect(scalar(env, 'REDIS_CACHE_URL', 6)).toBe(`redis://${cache![0]}:6379`);
    // Every variable set is one the configuration reads: a typo would be silently ignored.
    const known = configEnvNames();
    for (const name of keysAt(env, 6)) expect(known, `${name} is a configuration variable`).toContain(name);
    const depends = section(block, 'depends_on', 4)!;
    for (const [name] of redis) expect(scalar(section(depends, name, 6) ?? [], 'condition', 8), `depends_on ${name}`).toBe('service_healthy');
    expect(scalar(block, 'restart', 4)).toBe('unless-stopped');
    expect(scalar(block, 'init', 4)).toBe('true');
  });

  it('passes the upstream token as a Docker secret file, never as an environment variable', () => {
    const [, block] = daemon!;
    const env = section(block, 'environment', 4)!;
    expect(scalar(env, 'UPSTREAM_TOKEN', 6)).toBeUndefined();
    const tokenFile = scalar(env, 'UPSTREAM_TOKEN_FILE', 6);
    expect(tokenFile).toMatch(/^\/run\/secrets\/[\w-]+$/);
    const secret = tokenFile!.split('/').at(-1)!;
    expect(listOf(block, 'secrets', 4)).toContain(secret);
    const declared = section(section(composeLines, 'secrets', 0) ?? [], secret, 2);
    expect(scalar(declared ?? [], 'file', 4), `top-level secret ${secret}`).toMatch(/^\.\/secrets\//);
  });

  it('gives the daemon a stop grace period longer than its shutdown grace, so a drain is not cut short by SIGKILL', () => {
    const [, block] = daemon!;
    const env = section(block, 'environment', 4)!;
    const schemaGrace = (buildSchema(['topics']) as { shutdown: { grace: { default: string } } }).shutdown.grace.default;
    const graceMs = parseDuration(scalar(env, 'SHUTDOWN_GRACE', 6) ?? schemaGrace)!;
    expect(graceMs).toBeGreaterThan(0);
    const stop = scalar(block, 'stop_grace_period', 4);
    expect(stop, 'stop_grace_period').toBeDefined();
    // Beyond the grace itself: closing the worker and the Redis connections.
    expect(composeDuration(stop!)).toBeGreaterThanOrEqual(graceMs + 5_000);
  });
});
