/**
 * A hostile upstream the simulator cannot play: it answers every request with
 * a pre-compressed gzip body and its *compressed* content-length, the way a
 * server sends a pre-compressed file. (The simulator's `gzip-bomb` fault streams
 * its body chunked, without a content-length.)
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createGzip } from 'node:zlib';

const PREFIX = '{"succeeded":true,"resp_data":{"padding":"';
const SUFFIX = '"}}';

/** A gzip body inflating to `bytes` bytes of a valid JSON envelope; built chunk by chunk, never whole in memory. */
export async function gzipBomb(bytes: number): Promise<Buffer> {
  const gzip = createGzip();
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(gzip, 'end');
  gzip.write(PREFIX);
  const block = Buffer.alloc(1 << 20, 'x');
  for (let left = bytes - PREFIX.length - SUFFIX.length; left > 0; left -= block.length) {
    if (!gzip.write(block.subarray(0, Math.min(left, block.length)))) await once(gzip, 'drain');
  }
  gzip.end(SUFFIX);
  await ended;
  return Buffer.concat(out);
}

export interface BombServer {
  url: string;
  /** Requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Serves `body` (gzip) to every request on 127.0.0.1, with `content-length` the compressed size. */
export async function startBombServer(body: Buffer): Promise<BombServer> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    requests += 1;
    res.on('error', () => undefined); // the client hanging up mid-body is the expected end
    res.writeHead(200, {
      'content-type': 'application/json; charset=UTF-8',
      'content-encoding': 'gzip',
      'content-length': String(body.length),
    });
    res.end(body);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
