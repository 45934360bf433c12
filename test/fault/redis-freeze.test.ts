/**
 * Redis that stops answering without closing anything: the process frozen
 * with SIGSTOP, or the route between daemon and Redis turned into a black
 * hole by a TCP proxy; and every connection reset at once. The daemon never
 * exits and the keys are fresh again (cached_at after the fault ended) soon
 * after the fault ends.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { DaemonProcess } from '../support/daemon.js';
import {
  expectSurvived,
  faultWorldPerTest,
  reportTimeToFresh,
  RUN_SLACK_MS,
  sleep,
  STUCK_AFTER_MS,
  TOPICS_EVERY_MS,
  waitFresh,
  type FaultWorld,
} from '../support/fault-world.js';
import type { TcpProxy } from '../support/tcp-proxy.js';

const world = faultWorldPerTest();

/** Polls until the proxy holds at least one connection again; ms from `since`. */
async function waitProxyConnected(proxy: TcpProxy, since: number, timeoutMs: number): Promise<number> {
  for (let attempt = 0; attempt < timeoutMs / 20 + 1 && Date.now() - since < timeoutMs; attempt += 1) {
    if (proxy.connections() > 0) return Date.now() - since;
    await sleep(20);
  }
  throw new Error(`the daemon did not connect through the proxy again within ${timeoutMs} ms`);
}

describe('a frozen Redis', () => {
  it('[slow] is survived when the redis-server is stopped (SIGSTOP) for 30 s: keys fresh within a cadence of SIGCONT', async () => {
    const w = await world();
    const server = await w.startRedis();
    const admin = w.client(server.url);
    const daemon = w.startDaemon({ env: { REDIS_URL: server.url } });
    await waitFresh(w, admin, 0, 15_000);

    process.kill(server.pid, 'SIGSTOP');
    await sleep(30_000);
    expect(daemon.child.exitCode, 'the daemon exited while Redis was frozen').toBeNull();
    process.kill(server.pid, 'SIGCONT');
    const thawedAt = Date.now();

    const freshMs = await waitFresh(w, admin, thawedAt, STUCK_AFTER_MS + TOPICS_EVERY_MS + RUN_SLACK_MS);
    const recreated = daemon.logs.filter((l) => String(l.msg).startsWith('worker is stuck')).length;
    reportTimeToFresh('redis SIGSTOP 30 s', { fresh: freshMs, 'worker recreations': String(recreated) });
    expect(freshMs).toBeLessThanOrEqual(TOPICS_EVERY_MS + RUN_SLACK_MS);
    await expectSurvived(daemon, w.token);
  }, 75_000);
});

describe('a faulty network between the daemon and Redis (TCP proxy)', () => {
  async function warmThroughProxy(): Promise<{ w: FaultWorld; proxy: TcpProxy; daemon: DaemonProcess; admin: Redis }> {
    const w = await world();
    const server = await w.startRedis();
    const proxy = await w.startProxy(server.port);
    const admin = w.client(server.url); // straight to Redis, around the proxy
    const daemon = w.startDaemon({ env: { REDIS_URL: proxy.url('redis') } });
    await waitFresh(w, admin, 0, 15_000);
    return { w, proxy, daemon, admin };
  }

  it('recovers when every connection to Redis is reset at once', async () => {
    const { w, proxy, daemon, admin } = await warmThroughProxy();
    proxy.resetAll();
    const resetAt = Date.now();
    const reconnectMs = await waitProxyConnected(proxy, resetAt, 10_000);
    const freshMs = await waitFresh(w, admin, resetAt, reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('every connection reset', { reconnect: reconnectMs, fresh: freshMs });
    expect(freshMs).toBeLessThanOrEqual(reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS);
    await expectSurvived(daemon, w.token);
  });

  it('[slow] recovers after a 10 s black hole that ends with every connection reset', async () => {
    const { w, proxy, daemon, admin } = await warmThroughProxy();
    proxy.setMode('blackhole');
    await sleep(10_000);
    expect(daemon.child.exitCode, 'the daemon exited during the black hole').toBeNull();
    proxy.setMode('pass');
    proxy.resetAll();
    const endAt = Date.now();
    const reconnectMs = await waitProxyConnected(proxy, endAt, 10_000);
    const freshMs = await waitFresh(w, admin, endAt, reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS + 5_000);
    reportTimeToFresh('black hole 10 s, then reset', { reconnect: reconnectMs, fresh: freshMs });
    expect(freshMs).toBeLessThanOrEqual(reconnectMs + TOPICS_EVERY_MS + RUN_SLACK_MS);
    await expectSurvived(daemon, w.token);
  }, 45_000);

  it('[slow] recovers by itself after a 10 s black hole that ends without any reset', async () => {
    // Nothing tells the daemon its connections died: the requests sent into
    // the black hole never get an answer (as on a half-open connection after
    // a failover or a lost NAT entry). Only a deadline on its own Redis calls
    // can notice; the watchdog is the place for it, within stuckAfter.
    const { w, proxy, daemon, admin } = await warmThroughProxy();
    proxy.setMode('blackhole');
    await sleep(10_000);
    expect(daemon.child.exitCode, 'the daemon exited during the black hole').toBeNull();
    const linesBefore = daemon.logs.length;
    proxy.setMode('pass');
    const endAt = Date.now();
    const freshMs = await waitFresh(w, admin, endAt, STUCK_AFTER_MS + TOPICS_EVERY_MS + RUN_SLACK_MS).catch((error: Error) => {
      const since = daemon.logs.slice(linesBefore).map((l) => l.msg);
      throw new Error(`${error.message}; the daemon logged ${since.length} line(s) since: ${JSON.stringify(since.slice(0, 5))}`);
    });
    reportTimeToFresh('black hole 10 s, no reset', { fresh: freshMs });
    await expectSurvived(daemon, w.token);
  }, 45_000);
});
