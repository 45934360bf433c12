/**
 * Redis down, restarted or emptied under a running daemon: it never exits,
 * it re-registers what Redis lost, and every warmed key is fresh again (a
 * cached_at after the fault ended) within one cadence plus the reconnect
 * time. Each test owns its redis-server, simulator and daemon process.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DaemonProcess, LogLine } from '../support/daemon.js';
import { freePort } from '../support/redis-server.js';
import {
  expectSurvived,
  faultWorldPerTest,
  logsWith,
  reportTimeToFresh,
  RUN_SLACK_MS,
  sleep,
  TOPICS_EVERY_MS,
  waitFresh,
  waitReconnected,
  WATCHDOG_MS,
} from '../support/fault-world.js';

const world = faultWorldPerTest();

const REREGISTERED = 'schedulers were missing, edited or had lost their next run';

/** The first log line containing `text` logged after index `from`. */
function waitForLogAfter(daemon: DaemonProcess, from: number, text: string, timeoutMs: number): Promise<LogLine> {
  return daemon.waitForLog((line) => daemon.logs.indexOf(line) >= from && typeof line.msg === 'string' && line.msg.includes(text), timeoutMs);
}

describe('a daemon started while Redis is down', () => {
  it('says Redis is unreachable, keeps running, and warms the keys once Redis comes up on that port', async () => {
    const w = await world();
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const daemon = w.startDaemon({ env: { REDIS_URL: url } });

    const said = await daemon.waitForLog((l) => l.msg === 'redis unreachable: retrying with backoff', 10_000);
    // The first connection to notice may be any of the daemon's.
    expect(['queue', 'worker', 'cache', 'status']).toContain(said.connection);
    await sleep(3_000);
    expect(daemon.child.exitCode).toBeNull();
    expect(logsWith(daemon.logs, 'schedulers reconciled')).toHaveLength(0);

    const upAt = Date.now();
    await w.startRedis([], port);
    const admin = w.client(url);
    const reconnectMs = await waitReconnected(admin, upAt, 10_000);
    const freshMs = await waitFresh(w, admin, upAt, reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('redis down at start', { reconnect: reconnectMs, fresh: freshMs });
    expect(freshMs).toBeLessThanOrEqual(reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS);
    await daemon.waitForLog((l) => l.msg === 'redis reachable again', 1_000);
    await expectSurvived(daemon, w.token);
  });

  it('reports the outage once per connection, not once per reconnect attempt', async () => {
    const w = await world();
    const daemon = w.startDaemon({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
    await daemon.waitForLog((l) => l.msg === 'redis unreachable: retrying with backoff', 10_000);
    // ioredis retries after 0.2, 0.4, 0.8, 1.6 and 3.2 s: five attempts per connection in this window.
    await sleep(6_000);
    const refused = daemon.logs.filter((l) => (l.err as { code?: string } | undefined)?.code === 'ECONNREFUSED');
    const byMessage: Record<string, number> = {};
    for (const l of refused) {
      const what = `${l.msg}${l.connection ? ` (${String(l.connection)})` : ''}`;
      byMessage[what] = (byMessage[what] ?? 0) + 1;
    }
    // watchConnection's promise (src/daemon.ts): "the first, then one a minute with a count",
    // for each of the queue, worker and cache connections.
    expect(refused.length, `lines about the refused connection: ${JSON.stringify(byMessage)}`).toBeLessThanOrEqual(4);
    await expectSurvived(daemon, w.token);
  });
});

describe('a running daemon whose Redis fails', () => {
  async function warmDaemon() {
    const w = await world();
    const server = await w.startRedis();
    const admin = w.client(server.url);
    const daemon = w.startDaemon({ env: { REDIS_URL: server.url } });
    await waitFresh(w, admin, 0, 15_000);
    return { w, server, admin, daemon };
  }

  it('recovers from a Redis killed and restarted empty on the same port: schedulers re-registered, keys fresh again', async () => {
    const { w, server, daemon } = await warmDaemon();
    const from = daemon.logs.length;
    await server.stop(); // SIGKILL by PID
    await sleep(1_000);
    const upAt = Date.now();
    const restarted = await w.startRedis([], server.port);
    const admin = w.client(restarted.url);
    const reconnectMs = await waitReconnected(admin, upAt, 10_000);
    const freshMs = await waitFresh(w, admin, upAt, reconnectMs + WATCHDOG_MS + TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('redis SIGKILL + restart (empty)', { reconnect: reconnectMs, fresh: freshMs });
    expect(freshMs).toBeLessThanOrEqual(reconnectMs + WATCHDOG_MS + TOPICS_EVERY_MS + RUN_SLACK_MS);

    const reregistered = await waitForLogAfter(daemon, from, REREGISTERED, 1_000);
    expect(reregistered.upserted).toEqual(expect.arrayContaining(['projects-list', 'topics']));
    expect((await admin.zrange(`{${w.prefix}}:bull:cache-warmer:repeat`, 0, -1)).sort()).toEqual(['projects-list', 'topics']);
    await expectSurvived(daemon, w.token);
  });

  it('recovers from a Redis killed and restarted with its data (AOF, same dir) without re-registering anything', async () => {
    const w = await world();
    const dataDir = join(w.dir, 'aof');
    mkdirSync(dataDir);
    const persistence = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir];
    const server = await w.startRedis(persistence);
    const daemon = w.startDaemon({ env: { REDIS_URL: server.url } });
    await waitFresh(w, w.client(server.url), 0, 15_000);
    const from = daemon.logs.length;
    await server.stop(); // SIGKILL by PID, in the middle of whatever the daemon was doing
    await sleep(1_000);
    const upAt = Date.now();
    const restarted = await w.startRedis(persistence, server.port);
    const admin = w.client(restarted.url);
    const reconnectMs = await waitReconnected(admin, upAt, 10_000);
    const freshMs = await waitFresh(w, admin, upAt, reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('redis SIGKILL + restart (AOF)', { reconnect: reconnectMs, fresh: freshMs });
    expect(freshMs).toBeLessThanOrEqual(reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS);
    // The schedulers came back with the data: nothing needed re-registering.
    expect(logsWith(daemon.logs.slice(from), REREGISTERED)).toEqual([]);
    await expectSurvived(daemon, w.token);
  });

  it('re-registers its schedulers after a FLUSHALL and keeps warming', async () => {
    const { w, admin, daemon } = await warmDaemon();
    const from = daemon.logs.length;
    const flushedAt = Date.now();
    await admin.flushall();
    const line = await waitForLogAfter(daemon, from, REREGISTERED, WATCHDOG_MS * 3 + 2_000);
    expect(line.upserted).toEqual(expect.arrayContaining(['projects-list', 'topics']));
    const freshMs = await waitFresh(w, admin, flushedAt, WATCHDOG_MS + TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('FLUSHALL', { fresh: freshMs });
    expect(freshMs).toBeLessThanOrEqual(WATCHDOG_MS + TOPICS_EVERY_MS + RUN_SLACK_MS);
    await expectSurvived(daemon, w.token);
  });

  it('re-registers schedulers whose keys were deleted, and refreshes on every tick afterwards', async () => {
    const { w, admin, daemon } = await warmDaemon();
    const bull = `{${w.prefix}}:bull:cache-warmer`;
    const schedulerKeys = [`${bull}:repeat`, `${bull}:repeat:topics`, `${bull}:repeat:projects-list`];
    // The layout this test relies on: BullMQ's scheduler index and one hash per scheduler.
    expect(await admin.exists(...schedulerKeys)).toBe(3);
    const from = daemon.logs.length;
    const deletedAt = Date.now();
    expect(await admin.del(...schedulerKeys)).toBe(3);

    const line = await waitForLogAfter(daemon, from, REREGISTERED, WATCHDOG_MS * 3 + 2_000);
    const noticedMs = Date.parse(String(line.time)) - deletedAt;
    expect(line.upserted).toEqual(expect.arrayContaining(['projects-list', 'topics']));
    expect((await admin.zrange(`${bull}:repeat`, 0, -1)).sort()).toEqual(['projects-list', 'topics']);
    // The delayed job left from before the deletion runs once and starts no successor;
    // keys fresh two ticks after the re-registration prove the schedule itself is back.
    const since = Date.now() + TOPICS_EVERY_MS;
    await sleep(TOPICS_EVERY_MS);
    const freshMs = await waitFresh(w, admin, since, TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('scheduler keys deleted', { noticed: noticedMs, 'fresh (a tick after)': freshMs });
    expect(freshMs).toBeLessThanOrEqual(TOPICS_EVERY_MS + RUN_SLACK_MS);
    await expectSurvived(daemon, w.token);
  });
});
