/**
 * A TCP proxy on 127.0.0.1 between a client (the daemon) and a server
 * (redis-server or an HTTP upstream) that injects network faults: a frozen
 * route (blackhole), refused connections, resets and latency. node:net only.
 *
 * Each accepted connection becomes a pair (client socket, upstream socket) and
 * two directions, client→upstream and upstream→client. A direction holds an
 * ordered queue of chunks, each with a due time, plus at most one END (a FIN)
 * or RESET (an abrupt close) marker at its tail, so that latency, half-closes
 * and resets keep the order in which the proxy saw them.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type ProxyMode = 'pass' | 'blackhole' | 'refuse';

export interface TcpProxy {
  /** Where clients connect (on 127.0.0.1). */
  readonly port: number;
  /** `proxy.url('redis')` → `redis://127.0.0.1:PORT`. */
  url(scheme: string): string;
  /** The current mode; assigning it is the same as setMode(). */
  mode: ProxyMode;
  /**
   * 'pass': forward both ways.
   * 'blackhole': accept connections and read, but forward nothing and answer
   * nothing; existing connections stop forwarding too, like a frozen peer or a
   * dropped route. Data read is discarded; closes and resets seen meanwhile are
   * held back and delivered when the mode leaves 'blackhole'.
   * 'refuse': new connections are reset at once (existing ones keep going).
   */
  setMode(mode: ProxyMode): void;
  /** Delay added before forwarding each chunk, in each direction (so a round trip gains 2 × ms); order is kept. */
  setLatency(ms: number): void;
  /** Destroys every open connection pair now; the client side sees ECONNRESET. */
  resetAll(): void;
  /** Open client connections. */
  connections(): number;
  /** Where new connections go from now on (existing ones stay where they are). */
  setTarget(port: number, host?: string): void;
  /** Stops listening, destroys all sockets and clears timers; never hangs, safe to call twice. */
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Host of the target. @defaultValue '127.0.0.1' */
  targetHost?: string;
  /** Port to listen on, e.g. to restart a proxy on the same port. @defaultValue 0 (any free port) */
  port?: number;
}

const MODES: readonly ProxyMode[] = ['pass', 'blackhole', 'refuse'];

/**
 * Bytes a direction may hold in its latency queue before it stops reading its
 * source; TCP backpressure then reaches the sender, so memory stays bounded.
 */
const QUEUE_HIGH_WATER_BYTES = 1024 * 1024;

type Item =
  | { kind: 'data'; chunk: Buffer; dueAt: number }
  | { kind: 'end'; dueAt: number }
  | { kind: 'reset'; dueAt: number };

interface Direction {
  readonly src: Socket;
  readonly dst: Socket;
  readonly queue: Item[];
  queuedBytes: number;
  /** Due time of the last queued item: later items are never due earlier, whatever the latency became. */
  lastDueAt: number;
  timer: NodeJS.Timeout | undefined;
  /** dst.write() returned false and 'drain' has not come yet. */
  waitingDrain: boolean;
  /** src sent its FIN (so its later close is not a reset). */
  srcEnded: boolean;
  /** An END or RESET is queued: nothing may follow it. */
  closing: boolean;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly toUpstream: Direction;
  readonly toClient: Direction;
}

/** An abrupt close (RST) where the platform allows it, else a plain destroy. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy() on a socket still connecting waits for the connection: destroy it instead.
  if (typeof socket.resetAndDestroy === 'function' && !socket.connecting) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // Not a TCP handle (or already gone): fall through to destroy().
    }
  }
  socket.destroy();
}

function ignoreErrors(socket: Socket): void {
  // Faults are the point of this proxy: errors on either side are expected and
  // show up as closes, which the pair handles.
  socket.on('error', () => {});
}

export function startTcpProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  checkPort('targetPort', targetPort);
  if (options.port !== undefined) checkPort('options.port', options.port);

  let target = { port: targetPort, host: options.targetHost ?? '127.0.0.1' };
  let mode: ProxyMode = 'pass';
  let latencyMs = 0;
  let closing: Promise<void> | undefined;
  const pairs = new Set<Pair>();
  const server: Server = createServer({ allowHalfOpen: true });

  function direction(src: Socket, dst: Socket): Direction {
    return { src, dst, queue: [], queuedBytes: 0, lastDueAt: 0, timer: undefined, waitingDrain: false, srcEnded: false, closing: false };
  }

  function enqueue(dir: Direction, item: Item): void {
    dir.queue.push(item);
    if (item.kind === 'data') dir.queuedBytes += item.chunk.length;
    else dir.closing = true;
    pump(dir);
  }

  function dueAt(dir: Direction): number {
    dir.lastDueAt = Math.max(performance.now() + latencyMs, dir.lastDueAt);
    return dir.lastDueAt;
  }

  /** Delivers every due item in order; arms one timer for the next. */
  function pump(dir: Direction): void {
    if (dir.timer) {
      clearTimeout(dir.timer);
      dir.timer = undefined;
    }
    while (dir.queue.length > 0) {
      const head = dir.queue[0]!;
      const wait = head.dueAt - performance.now();
      if (wait > 0) {
        // Timers can fire a little early against performance.now(): round up and re-check.
        dir.timer = setTimeout(() => {
          dir.timer = undefined;
          pump(dir);
        }, Math.ceil(wait));
        break;
      }
      if (head.kind === 'data') {
        dir.queue.shift();
        dir.queuedBytes -= head.chunk.length;
        // A frozen route drops what was in flight.
        if (mode !== 'blackhole' && !dir.dst.destroyed && dir.dst.writable) {
          if (!dir.dst.write(head.chunk)) dir.waitingDrain = true;
        }
        continue;
      }
      // Closes wait out a blackhole: the other side must not learn anything.
      if (mode === 'blackhole') break;
      dir.queue.shift();
      if (head.kind === 'end') {
        if (!dir.dst.destroyed) dir.dst.end();
      } else {
        reset(dir.dst);
      }
    }
    updateFlow(dir);
  }

  function updateFlow(dir: Direction): void {
    if (dir.src.destroyed) return;
    // In blackhole the source keeps flowing and what it reads is dropped, so nothing piles up.
    const hold = mode !== 'blackhole' && (dir.waitingDrain || dir.queuedBytes > QUEUE_HIGH_WATER_BYTES);
    if (hold) dir.src.pause();
    else dir.src.resume();
  }

  function wire(dir: Direction, other: Direction): void {
    dir.src.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole' || dir.closing || dir.dst.destroyed) return;
      enqueue(dir, { kind: 'data', chunk, dueAt: dueAt(dir) });
    });
    dir.src.on('end', () => {
      dir.srcEnded = true;
      if (!dir.closing && !dir.dst.destroyed) enqueue(dir, { kind: 'end', dueAt: dueAt(dir) });
    });
    dir.src.on('close', (hadError: boolean) => {
      // Writes into src are pointless now.
      other.queue.length = 0;
      other.queuedBytes = 0;
      if (other.timer) clearTimeout(other.timer);
      other.timer = undefined;
      // No 'drain' will come from a closed socket: let the other side flow (its data is dropped).
      other.waitingDrain = false;
      updateFlow(other);
      if ((hadError || !dir.srcEnded) && !dir.closing && !dir.dst.destroyed) {
        // Drop a pending END: the reset replaces it.
        enqueue(dir, { kind: 'reset', dueAt: dueAt(dir) });
      }
    });
    dir.dst.on('drain', () => {
      dir.waitingDrain = false;
      updateFlow(dir);
    });
  }

  function dispose(pair: Pair): void {
    for (const dir of [pair.toUpstream, pair.toClient]) {
      if (dir.timer) clearTimeout(dir.timer);
      dir.timer = undefined;
      dir.queue.length = 0;
      dir.queuedBytes = 0;
    }
    pairs.delete(pair);
  }

  server.on('connection', (client: Socket) => {
    ignoreErrors(client);
    if (closing || mode === 'refuse') {
      reset(client);
      return;
    }
    client.setNoDelay(true);
    const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true });
    ignoreErrors(upstream);
    upstream.setNoDelay(true);
    const pair: Pair = {
      client,
      upstream,
      toUpstream: direction(client, upstream),
      toClient: direction(upstream, client),
    };
    pairs.add(pair);
    wire(pair.toUpstream, pair.toClient);
    wire(pair.toClient, pair.toUpstream);
    const settle = () => {
      if (client.destroyed && upstream.destroyed) dispose(pair);
    };
    client.on('close', settle);
    upstream.on('close', settle);
  });

  const proxy = {
    port: 0,
    url(scheme: string): string {
      return `${scheme}://127.0.0.1:${proxy.port}`;
    },
    get mode(): ProxyMode {
      return mode;
    },
    set mode(next: ProxyMode) {
      proxy.setMode(next);
    },
    setMode(next: ProxyMode): void {
      if (!MODES.includes(next)) {
        throw new TypeError(`TcpProxy.setMode: mode ${JSON.stringify(next)} is not one of ${MODES.join(', ')}`);
      }
      mode = next;
      // Leaving or entering blackhole changes what pumps deliver and whether sources flow.
      for (const pair of pairs) {
        pump(pair.toUpstream);
        pump(pair.toClient);
      }
    },
    setLatency(ms: number): void {
      if (!Number.isFinite(ms) || ms < 0) {
        throw new RangeError(`TcpProxy.setLatency: ms ${ms} is not a finite number >= 0`);
      }
      latencyMs = ms;
    },
    resetAll(): void {
      for (const pair of [...pairs]) {
        reset(pair.client);
        reset(pair.upstream);
        dispose(pair);
      }
    },
    connections(): number {
      let open = 0;
      for (const pair of pairs) if (!pair.client.destroyed) open += 1;
      return open;
    },
    setTarget(port: number, host?: string): void {
      checkPort('TcpProxy.setTarget: port', port);
      target = { port, host: host ?? target.host };
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        // server.close() calls back once its connections are gone; they are destroyed just below.
        server.close(() => resolve());
        proxy.resetAll();
      });
      return closing;
    },
  } satisfies TcpProxy;

  return new Promise<TcpProxy>((resolve, reject) => {
    const onError = (error: Error) => {
      reject(new Error(`startTcpProxy: cannot listen on 127.0.0.1:${options.port ?? 0}: ${error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', onError);
      // A listening server has nothing else to fail on that a test could act on.
      server.on('error', () => {});
      const address = server.address();
      proxy.port = typeof address === 'object' && address ? address.port : 0;
      resolve(proxy);
    });
  });
}

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`startTcpProxy: ${name} ${port} is not a TCP port (an integer 0-65535)`);
  }
}
