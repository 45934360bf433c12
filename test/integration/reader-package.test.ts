import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { harnessPerTest } from '../support/harness.js';
import { redisUrl } from '../support/redis.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/src/reader/index.js', import.meta.url));

const create = harnessPerTest({ projects: 4 });

/** Runs an ES module snippet in a child node started in the checkout, where the package resolves itself by name. */
async function node(source: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run "npm run build" first (npm test does)`);
  return run(process.execPath, ['--input-type=module', '-e', source], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 15_000,
  });
}

describe('the package export cache-warmer/reader', () => {
  it('resolves to the built reader and reads a warmed key from another process', async () => {
    const h = await create();
    for (const job of ['projects-list', 'topics']) expect((await h.run(job)).ok, `run of ${job}`).toBe(true);
    const project = h.sim.data.projects.find((p) => p.status === 'ongoing' && !p.deleted && p.topics.length > 0)!;

    const { stdout } = await node(
      `
      const { createReader, ReaderError } = await import('cache-warmer/reader');
      const reader = createReader(process.env.URL, { prefix: process.env.PREFIX });
      try {
        const read = await reader.topics(process.env.ID);
        const missing = await reader.topics('1');
        console.log(JSON.stringify({
          resolved: import.meta.resolve('cache-warmer/reader'),
          errorCode: new ReaderError('k', 'p').code,
          data: read.data, cachedAt: read.cachedAt.toISOString(), stale: read.stale, missing,
        }));
      } finally {
        await reader.close();
      }
      `,
      { URL: redisUrl(), PREFIX: h.prefix, ID: project.checkin_id },
    );
    const out = JSON.parse(stdout) as { resolved: string; errorCode: string; data: { topics: Array<{ topic_id: string }> }; cachedAt: string; stale: boolean; missing: null };
    expect(fileURLToPath(out.resolved)).toBe(BUILT);
    expect(out.errorCode).toBe('ERR_READER_BAD_VALUE');
    expect(out.data).toEqual(await h.json(h.key('project', project.checkin_id, 'topics')));
    expect(out.cachedAt).toBe((await h.json(h.key('project', project.checkin_id, 'topics'))).cached_at);
    expect(out.stale).toBe(false);
    expect(out.missing).toBeNull();
    // The child exited by itself, within execFile's timeout: its reader closed its connection (an open one keeps node running).
  });

  it('exports the reader and package.json only: the daemon’s internals are not importable by path', async () => {
    const { stdout } = await node(`
      const tries = ['cache-warmer/package.json', 'cache-warmer/dist/src/cli/main.js', 'cache-warmer/dist/src/cache/store.js', 'cache-warmer'];
      const out = {};
      for (const spec of tries) {
        try { import.meta.resolve(spec); out[spec] = 'ok'; } catch (e) { out[spec] = e.code; }
      }
      console.log(JSON.stringify(out));
    `);
    expect(JSON.parse(stdout)).toEqual({
      'cache-warmer/package.json': 'ok',
      'cache-warmer/dist/src/cli/main.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'cache-warmer/dist/src/cache/store.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      // No library entry point: the package root is the CLI (bin), not an import.
      'cache-warmer': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });
});
