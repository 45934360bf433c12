import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type ProxyMode, type TcpProxy } from '../support/tcp-proxy.js';

/** A loopback echo server that remembers what it received. */
interface Echo {
  port: number;
  received(): string;
  openSockets(): number;
  close(): Promise<void>;
}

interface Client {
  socket: Socket;
  data(): string;
  isClosed(): boolean;
  /** Settles when the socket closes, with the error it saw if any. */
  closed: Promise<{ error: NodeJS.ErrnoException | undefined }>;
}

const proxies: TcpProxy[] = [];
const echoes: Echo[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.destroy();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(echoes.splice(0).map((echo) => echo.close()));
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function proxyTo(targetPort: number, options?: { port?: number }): Promise<TcpProxy> {
  const proxy = await startTcpProxy(targetPort, options);
  proxies.push(proxy);
  return proxy;
}

async function startEcho(): Promise<Echo> {
  let received = '';
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      socket.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const echo: Echo = {
    port: typeof address === 'object' && address ? address.port : 0,
    received: () => received,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  echoes.push(echo);
  return echo;
}

/** A port nothing listens on (free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

function open(port: number): Client {
  const socket = connect({ port, host: '127.0.0.1' });
  let data = '';
  let error: NodeJS.ErrnoException | undefined;
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString();
  });
  socket.on('error', (err) => {
    error = err;
  });
  const closed = new Promise<{ error: NodeJS.ErrnoException | undefined }>((resolve) => {
    socket.on('close', () => {
      isClosed = true;
      resolve({ error });
    });
  });
  const client: Client = { socket, data: () => data, isClosed: () => isClosed, closed };
  clients.push(client);
  return client;
}

/** Resolves once the client has received `length` characters in all; fails after `timeoutMs`. */
async function until(client: Client, length: number, timeoutMs = 1000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (client.data().length < length) {
    if (performance.now() > deadline) {
      throw new Error(`client received ${JSON.stringify(client.data())} (${client.data().length} chars), not ${length} chars within ${timeoutMs} ms`);
    }
    await sleep(5);
  }
}

/** Sends `text` and waits for its echo. */
async function roundTrip(client: Client, text: string): Promise<void> {
  const before = client.data();
  client.socket.write(text);
  await until(client, before.length + text.length);
  expect(client.data()).toBe(before + text);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('startTcpProxy', () => {
  it('forwards bytes to the server and its answer back to the client in pass mode', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    expect(proxy.mode).toBe('pass');
    expect(proxy.url('redis')).toBe(`redis://127.0.0.1:${proxy.port}`);

    const client = open(proxy.port);
    await roundTrip(client, 'hello');
    expect(echo.received()).toBe('hello');
    expect(proxy.connections()).toBe(1);
  });

  it('adds the latency in each direction, so a round trip takes at least twice as long', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const client = open(proxy.port);
    await roundTrip(client, 'warm');

    proxy.setLatency(100);
    const start = performance.now();
    await roundTrip(client, 'slow');
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(200 + 500);
  });

  it('keeps the order of chunks when the latency is lowered mid-stream', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const client = open(proxy.port);
    await roundTrip(client, 'warm');

    proxy.setLatency(150);
    client.socket.write('a');
    await sleep(30);
    proxy.setLatency(0);
    client.socket.write('b');
    await until(client, 'warmab'.length);
    expect(echo.received()).toBe('warmab');
    expect(client.data()).toBe('warmab');
  });

  it('leaves requests unanswered in blackhole mode while open and new connections stay open', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const before = open(proxy.port);
    await roundTrip(before, 'one');

    proxy.setMode('blackhole');
    expect(proxy.mode).toBe('blackhole');
    before.socket.write('two');
    const during = open(proxy.port);
    during.socket.write('three');
    await sleep(200);

    expect(echo.received()).toBe('one');
    expect(before.data()).toBe('one');
    expect(during.data()).toBe('');
    expect(before.isClosed()).toBe(false);
    expect(during.isClosed()).toBe(false);
    expect(proxy.connections()).toBe(2);
  });

  it('forwards again for new connections once back in pass mode, without replaying what the blackhole dropped', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const old = open(proxy.port);
    await roundTrip(old, 'one');

    proxy.setMode('blackhole');
    old.socket.write('dropped');
    await sleep(50);
    proxy.setMode('pass');

    const fresh = open(proxy.port);
    await roundTrip(fresh, 'fresh');
    await roundTrip(old, 'four');
    expect(echo.received()).not.toContain('dropped');
  });

  it('reads and discards what arrives in blackhole mode instead of stalling the sender', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const client = open(proxy.port);
    await roundTrip(client, 'warm');

    proxy.setMode('blackhole');
    // More than loopback socket buffers hold: the write only completes if the proxy keeps reading.
    const payload = Buffer.alloc(16 * 1024 * 1024, 0x61);
    await within(new Promise<void>((resolve, reject) => client.socket.write(payload, (err) => (err ? reject(err) : resolve()))), 2000, 'the 16 MiB write');
    expect(echo.received()).toBe('warm');
    expect(client.data()).toBe('warm');
  });

  it('closes new connections at once in refuse mode and keeps open ones working', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const open1 = open(proxy.port);
    await roundTrip(open1, 'one');

    proxy.setMode('refuse');
    const refused = open(proxy.port);
    refused.socket.write('never');
    await within(refused.closed, 1000, 'the refused connection closing');
    expect(proxy.connections()).toBe(1);

    await roundTrip(open1, 'two');
    expect(echo.received()).toBe('onetwo');
  });

  it('resets every open connection on resetAll, so the client sees ECONNRESET', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const client = open(proxy.port);
    await roundTrip(client, 'one');
    expect(echo.openSockets()).toBe(1);

    proxy.resetAll();
    const { error } = await within(client.closed, 1000, 'the client closing');
    expect(error?.code).toBe('ECONNRESET');
    expect(proxy.connections()).toBe(0);
    await sleep(20);
    expect(echo.openSockets()).toBe(0);
  });

  it('sends new connections to the target set by setTarget while open ones stay on the old target', async () => {
    const first = await startEcho();
    const second = await startEcho();
    const proxy = await proxyTo(first.port);
    const old = open(proxy.port);
    await roundTrip(old, 'warm');

    proxy.setTarget(second.port);
    const fresh = open(proxy.port);
    await roundTrip(fresh, 'to-second');
    await roundTrip(old, 'to-first');
    expect(first.received()).toBe('warmto-first');
    expect(second.received()).toBe('to-second');
  });

  it('destroys the client side when the target refuses the connection', async () => {
    const proxy = await proxyTo(await closedPort());
    const client = open(proxy.port);
    client.socket.write('anyone?');
    await within(client.closed, 1000, 'the client closing');
    expect(client.data()).toBe('');
    expect(proxy.connections()).toBe(0);
  });

  it('closes within a moment, drops open connections and frees its port for a proxy on the same port', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    const client = open(proxy.port);
    await roundTrip(client, 'one');

    await within(proxy.close(), 1000, 'close()');
    await within(client.closed, 1000, 'the client closing');
    await within(proxy.close(), 1000, 'a second close()');
    const { error } = await within(open(proxy.port).closed, 1000, 'a connection to the closed port failing');
    expect(error?.code).toBe('ECONNREFUSED');

    const again = await proxyTo(echo.port, { port: proxy.port });
    expect(again.port).toBe(proxy.port);
    await roundTrip(open(again.port), 'two');
  });

  it('rejects an unknown mode, a negative latency and a port out of range, naming the bad value', async () => {
    const echo = await startEcho();
    const proxy = await proxyTo(echo.port);
    expect(() => proxy.setMode('drop' as ProxyMode)).toThrow(/mode "drop"/);
    expect(() => proxy.setLatency(-1)).toThrow(/ms -1/);
    expect(() => proxy.setTarget(70000)).toThrow(/70000/);
    expect(proxy.mode).toBe('pass');
  });
});
