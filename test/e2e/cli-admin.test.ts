/**
 * `keys` and `clear` against a real redis-server, after a real warm of every
 * job from the upstream simulator (the harness runs them as `--once` does).
 * The commands run as the built CLI, as operators run them, except the
 * confirmation prompt, which needs a terminal: that path calls clearCommand
 * in-process with stream objects that say they are one.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { clearCommand } from '../../src/cli/commands/clear.js';
import { spawnCli } from '../support/daemon.js';
import { harnessPerTest, type Harness } from '../support/harness.js';
import { keysUnder, redisUrl } from '../support/redis.js';
import { freePort } from '../support/redis-server.js';
import { internalKeys } from '../../src/cache/keys.js';

const newHarness = harnessPerTest({ projects: 4, env: { UPSTREAM_RETRIES: '0' } });

/** Runs the CLI to its end (bounded), with only what keys and clear need: no token. */
async function cli(h: Harness, args: string[], env: Record<string, string> = {}) {
  const run = spawnCli(args, { REDIS_URL: redisUrl(), CACHE_PREFIX: h.prefix, ...env });
  const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  if (code === 'timeout') await run.stop('SIGKILL');
  return { code, output: run.output() };
}

/** Every job once, the project list first: what `--once all` writes. */
async function warm(h: Harness): Promise<void> {
  for (const job of ['projects-list', 'project-stats', 'leaderboards', 'daily-stats', 'topics']) {
    const result = await h.run(job);
    expect(result.ok, `${job}: ${result.error?.message}`).toBe(true);
  }
}

/** The warmer's own keys under the prefix, as the daemon would have them (BullMQ, rate limit, gone projects, a doctor probe). */
async function addInternalKeys(h: Harness): Promise<string[]> {
  const keys = [`{${h.prefix}}:bull:cache-warmer:meta`, `{${h.prefix}}:bull:cache-warmer:repeat`, internalKeys.upstreamRateLimit(h.prefix), internalKeys.goneProjects(h.prefix), h.key('doctor', 'abc')];
  await h.redis.hset(keys[0]!, 'version', 'bullmq:6');
  await h.redis.zadd(keys[1]!, 1, 'topics');
  await h.redis.set(keys[2]!, '123', 'PX', 60_000);
  await h.redis.hset(keys[3]!, '999', String(Date.now() + 60_000));
  await h.redis.set(keys[4]!, '1', 'PX', 60_000);
  return [...keys, ...(await keysUnder(h.redis, h.prefix)).filter((k) => k.startsWith(internalKeys.status(h.prefix, '')))];
}

interface KeysDoc {
  prefix: string;
  listed: number;
  matched: number;
  limit: number;
  truncated: boolean;
  keys: Array<{ key: string; job: string | null; ttlSeconds: number | null; cachedAt: string | null; ageSeconds: number | null; bytes: number | null }>;
}

const ongoingIds = (h: Harness) => h.sim.data.projects.filter((p) => p.status === 'ongoing' && !p.deleted).map((p) => p.checkin_id);

describe('cache-warmer keys', () => {
  it('lists every warmed key of the contract with TTL left, age from cached_at and size (STRLEN), and no internal key', async () => {
    const h = await newHarness();
    await warm(h);
    const internal = await addInternalKeys(h);
    const warmed = await h.cacheKeys();
    const started = Date.now();

    const result = await cli(h, ['keys', '--json', '--limit', '1000']);
    expect(result.code, result.output).toBe(0);
    const doc = JSON.parse(result.output) as KeysDoc;
    const listed = doc.keys.map((k) => k.key);
    const expected = warmed.filter((k) => !internal.includes(k)).sort();
    expect(listed).toEqual(expected);
    expect(doc).toMatchObject({ prefix: h.prefix, listed: expected.length, matched: expected.length, truncated: false, limit: 1000 });
    for (const internalKey of internal) expect(listed).not.toContain(internalKey);

    // The contract's families are all there, each attributed to its job.
    const id = ongoingIds(h)[0]!;
    const byKey = new Map(doc.keys.map((k) => [k.key, k]));
    const contract: Array<[string, string]> = [
      [h.key('projects', 'list', 'ongoing'), 'projects-list'],
      [h.key('project', id, 'info'), 'projects-list'],
      [h.key('project', id, 'stats'), 'project-stats'],
      [h.key('project', id, 'leaderboard', 'continuous'), 'leaderboards'],
      [h.key('project', id, 'leaderboard', 'accumulated'), 'leaderboards'],
      [h.key('project', id, 'daily_stats'), 'daily-stats'],
      [h.key('project', id, 'topics'), 'topics'],
    ];
    for (const [key, job] of contract) expect(byKey.get(key)?.job, key).toBe(job);

    for (const k of doc.keys) {
      expect(k.ttlSeconds, k.key).toBeGreaterThan(0);
      expect(k.bytes, k.key).toBe(await h.redis.strlen(k.key));
      const value = (await h.json(k.key)) as { cached_at: string };
      expect(k.cachedAt).toBe(value.cached_at);
      // Warmed moments ago: the age is small and never negative.
      expect(k.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(k.ageSeconds!).toBeLessThanOrEqual(Math.ceil((Date.now() - Date.parse(value.cached_at)) / 1000) + 1);
      expect(Date.parse(value.cached_at)).toBeLessThanOrEqual(started);
    }
    // TTLs follow the jobs' defaults: topics 10 min, the project list 2 h.
    expect(byKey.get(h.key('project', id, 'topics'))!.ttlSeconds).toBeLessThanOrEqual(600);
    expect(byKey.get(h.key('projects', 'list', 'ongoing'))!.ttlSeconds).toBeGreaterThan(600);
  });

  it('filters by a PATTERN relative to the prefix, and by --project with the exact id', async () => {
    const h = await newHarness();
    await warm(h);
    const id = ongoingIds(h)[0]!;
    // A key of another project whose id starts with this one's digits: --project must not take it.
    const lookalike = h.key('project', `${id}9`, 'topics');
    await h.redis.set(lookalike, JSON.stringify({ project_id: `${id}9`, topics: [], cached_at: new Date().toISOString() }), 'EX', 600);
    const projectKeys = [
      h.key('project', id, 'daily_stats'),
      h.key('project', id, 'info'),
      h.key('project', id, 'leaderboard', 'accumulated'),
      h.key('project', id, 'leaderboard', 'continuous'),
      h.key('project', id, 'stats'),
      h.key('project', id, 'topics'),
    ];

    const byPattern = JSON.parse((await cli(h, ['keys', `project:${id}:*`, '--json'])).output) as KeysDoc;
    expect(byPattern.keys.map((k) => k.key)).toEqual(projectKeys);

    const byProject = JSON.parse((await cli(h, ['keys', '--project', id, '--json'])).output) as KeysDoc;
    expect(byProject.keys.map((k) => k.key)).toEqual(projectKeys);

    const topics = JSON.parse((await cli(h, ['keys', 'project:*:topics', '--json'])).output) as KeysDoc;
    expect(topics.keys.map((k) => k.key).sort()).toEqual([...ongoingIds(h).map((p) => h.key('project', p, 'topics')), lookalike].sort());
    expect(topics.keys.every((k) => k.job === 'topics')).toBe(true);

    // A key under the prefix that no job's template describes (a job since removed): listed, without a job or age.
    const legacy = h.key('legacy', 'thing');
    await h.redis.set(legacy, 'not json', 'EX', 60);
    const other = JSON.parse((await cli(h, ['keys', 'legacy:*', '--json'])).output) as KeysDoc;
    expect(other.keys).toEqual([{ key: legacy, job: null, ttlSeconds: expect.any(Number), cachedAt: null, ageSeconds: null, bytes: 8 }]);
    expect(other.keys[0]!.ttlSeconds).toBeGreaterThan(50);
  });

  it('bounds the output with --limit and says how many matched in all', async () => {
    const h = await newHarness();
    await warm(h);
    const total = (await h.cacheKeys()).length;
    expect(total).toBeGreaterThan(3);

    const doc = JSON.parse((await cli(h, ['keys', '--limit', '3', '--json'])).output) as KeysDoc;
    expect(doc).toMatchObject({ listed: 3, matched: total, limit: 3, truncated: true });
    expect(doc.keys).toHaveLength(3);

    const table = await cli(h, ['keys', '--limit', '3']);
    expect(table.code).toBe(0);
    const lines = table.output.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+JOB\s+TTL\s+AGE\s+SIZE$/);
    expect(lines.slice(1, 4).every((l) => l.startsWith(`${h.prefix}:`))).toBe(true);
    expect(table.output).toContain(`showing 3 of ${total} matching keys (--limit 3): narrow PATTERN or raise --limit`);
    expect(table.output).toContain("SIZE is the value's length, STRLEN");
  });

  it('says when nothing matches, with a hint when PATTERN repeats the prefix', async () => {
    const h = await newHarness();
    await warm(h);
    const result = await cli(h, ['keys', `${h.prefix}:project:*`]);
    expect(result.code).toBe(0);
    expect(result.output.trim()).toBe(`no warmed key matches ${h.prefix}:${h.prefix}:project:* (PATTERN is relative to the prefix: try 'project:*')`);
    const json = JSON.parse((await cli(h, ['keys', 'nothing:*', '--json'])).output) as KeysDoc;
    expect(json).toMatchObject({ listed: 0, matched: 0, truncated: false, keys: [] });
  });

  it('fails with exit 1 and the server named (password masked) when the cache Redis is down', async () => {
    const h = await newHarness();
    const port = await freePort();
    const result = await cli(h, ['keys'], { REDIS_URL: `redis://:hunter2-secret@127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.output.trim()).toBe(`cache-warmer: ERR_CACHE: cache Redis redis://:***@127.0.0.1:${port}: cannot connect (ECONNREFUSED)`);
    expect(result.output).not.toContain('hunter2-secret');
  });
});

describe('cache-warmer clear', () => {
  it('--project ID --yes deletes exactly that project\'s keys, reports the count and leaves every other key alone', async () => {
    const h = await newHarness();
    await warm(h);
    const internal = await addInternalKeys(h);
    const [id, other] = ongoingIds(h);
    const lookalike = h.key('project', `${id}9`, 'topics');
    await h.redis.set(lookalike, '{}', 'EX', 600);
    const before = await keysUnder(h.redis, h.prefix);
    const doomed = before.filter((k) => k.startsWith(h.key('project', id!, '')));
    expect(doomed).toHaveLength(6);
    const otherBytes = await h.redis.get(h.key('project', other!, 'topics'));

    const result = await cli(h, ['clear', '--project', id!, '--yes']);
    expect(result.code, result.output).toBe(0);
    expect(result.output.trim()).toBe(`deleted 6 keys matching project ${id}`);
    const after = await keysUnder(h.redis, h.prefix);
    expect(after).toEqual(before.filter((k) => !doomed.includes(k)));
    for (const key of [...internal, lookalike]) expect(after).toContain(key);
    expect(await h.redis.get(h.key('project', other!, 'topics'))).toBe(otherBytes);

    const again = await cli(h, ['clear', '--project', id!, '--yes', '--json']);
    expect(JSON.parse(again.output)).toEqual({ prefix: h.prefix, project: id, deleted: 0 });
  });

  it('refuses to delete without --yes when not on a terminal (exit 2) and deletes nothing', async () => {
    const h = await newHarness();
    await warm(h);
    const before = await keysUnder(h.redis, h.prefix);
    for (const args of [['clear', '*'], ['clear', '--project', ongoingIds(h)[0]!], ['clear', 'project:*', '--json']]) {
      const result = await cli(h, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.output).toContain('cache-warmer: clear: not on a terminal, so it cannot ask for confirmation: add --yes to delete without asking (nothing was deleted)');
    }
    expect(await keysUnder(h.redis, h.prefix)).toEqual(before);
  });

  it("clear '*' --yes deletes every warmed key and none of the warmer's own", async () => {
    const h = await newHarness();
    await warm(h);
    const internal = await addInternalKeys(h);
    const warmed = (await h.cacheKeys()).filter((k) => !internal.includes(k));
    const internalValues = await Promise.all(internal.map((k) => h.redis.dump(k)));

    const result = await cli(h, ['clear', '*', '--yes', '--json']);
    expect(result.code, result.output).toBe(0);
    expect(JSON.parse(result.output)).toEqual({ prefix: h.prefix, pattern: '*', deleted: warmed.length });
    expect((await keysUnder(h.redis, h.prefix)).sort()).toEqual([...internal].sort());
    expect(await Promise.all(internal.map((k) => h.redis.dump(k)))).toEqual(internalValues);
  });

  it('deletes only what a PATTERN matches', async () => {
    const h = await newHarness();
    await warm(h);
    const before = await keysUnder(h.redis, h.prefix);
    const topics = before.filter((k) => k.startsWith(h.key('project', '')) && k.endsWith(':topics'));
    expect(topics).toHaveLength(ongoingIds(h).length);
    const result = await cli(h, ['clear', 'project:*:topics', '-y']);
    expect(result.output.trim()).toBe(`deleted ${topics.length} keys matching ${h.prefix}:project:*:topics`);
    expect(await keysUnder(h.redis, h.prefix)).toEqual(before.filter((k) => !topics.includes(k)));
  });

  describe('on a terminal', () => {
    /** Streams that say they are a terminal; the answer is typed once the question shows. */
    function terminal(answer: string) {
      const input = Object.assign(new PassThrough(), { isTTY: true });
      const prompt = Object.assign(new PassThrough(), { isTTY: true });
      let shown = '';
      let answered = false;
      prompt.on('data', (chunk: Buffer) => {
        shown += chunk.toString();
        if (!answered && (shown.includes('[y/N] ') || shown.includes('to confirm: '))) {
          answered = true;
          input.write(`${answer}\n`);
        }
      });
      return { io: { input, prompt }, shown: () => shown };
    }

    async function clearOnTerminal(h: Harness, target: { pattern: string } | { project: string }, answer: string) {
      const t = terminal(answer);
      const lines: string[] = [];
      const code = await clearCommand(h.jobs, h.config, { target, yes: false, json: false }, t.io, (line) => lines.push(line));
      return { code, shown: t.shown(), out: lines.join('\n') };
    }

    it('asks first, showing how many keys match and a sample; "n" deletes nothing (exit 1), "y" deletes', async () => {
      const h = await newHarness();
      await warm(h);
      const id = ongoingIds(h)[0]!;
      const before = await keysUnder(h.redis, h.prefix);

      const declined = await clearOnTerminal(h, { project: id }, 'n');
      expect(declined.code).toBe(1);
      expect(declined.shown).toContain(`6 warmed keys match project ${id}, e.g.:\n  ${h.key('project', id, 'daily_stats')}`);
      expect(declined.shown).toContain('Delete them? [y/N] ');
      expect(declined.shown).toContain('aborted: nothing deleted');
      expect(await keysUnder(h.redis, h.prefix)).toEqual(before);

      const confirmed = await clearOnTerminal(h, { project: id }, 'y');
      expect(confirmed.code).toBe(0);
      expect(confirmed.out).toBe(`deleted 6 keys matching project ${id}`);
      expect(await h.redis.exists(h.key('project', id, 'topics'))).toBe(0);
    });

    it("for '*' wants the prefix typed, not just y", async () => {
      const h = await newHarness();
      await warm(h);
      const before = await keysUnder(h.redis, h.prefix);

      const justY = await clearOnTerminal(h, { pattern: '*' }, 'y');
      expect(justY.code).toBe(1);
      expect(justY.shown).toContain(`This deletes EVERY warmed key. Type the prefix "${h.prefix}" to confirm: `);
      expect(await keysUnder(h.redis, h.prefix)).toEqual(before);

      const typed = await clearOnTerminal(h, { pattern: '*' }, h.prefix);
      expect(typed.code).toBe(0);
      expect(await h.cacheKeys()).toEqual([]);
    });

    it('says so and exits 0 without asking when nothing matches', async () => {
      const h = await newHarness();
      await warm(h);
      const result = await clearOnTerminal(h, { pattern: 'nothing:*' }, 'y');
      expect(result).toMatchObject({ code: 0, shown: '', out: `nothing to delete: no warmed key matches ${h.prefix}:nothing:*` });
    });
  });
});
