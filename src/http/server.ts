import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface HttpServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  logger: Logger;
}

export interface HttpServer {
  /** Where it listens (the chosen port when 0 was asked for). */
  readonly address: { host: string; port: number };
  /**
   * Stops accepting connections, closes idle keep-alive ones and lets the
   * requests in flight finish, for at most `graceMs`; then closes every
   * connection. Never rejects.
   */
  close(graceMs?: number): Promise<void>;
  /** Closes every connection at once (a forced stop). */
  closeNow(): Promise<void>;
}

/**
 * Bounds on one request: a client that trickles its headers or body, or
 * leaves a keep-alive connection open, cannot hold the server's resources.
 */
const LIMITS = {
  headersTimeout: 5_000,
  requestTimeout: 10_000,
  keepAliveTimeout: 5_000,
  maxHeaderSize: 8_192,
  maxRequestsPerSocket: 1_000,
} as const;

/** Starts node:http on host:port and logs `http listening` with the address; rejects when it cannot listen. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { logger } = options;
  const server: Server = createServer({ maxHeaderSize: LIMITS.maxHeaderSize }, (req, res) => {
    void options.handler(req, res);
  });
  server.headersTimeout = LIMITS.headersTimeout;
  server.requestTimeout = LIMITS.requestTimeout;
  server.keepAliveTimeout = LIMITS.keepAliveTimeout;
  server.maxRequestsPerSocket = LIMITS.maxRequestsPerSocket;
  // A malformed request: answer 400 and drop the socket; never an uncaught error.
  server.on('clientError', (error, socket) => {
    logger.debug({ err: error }, 'http client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'http server error'));
  const info = server.address() as AddressInfo;
  const address = { host: info.address, port: info.port };
  logger.info(address, 'http listening');

  let closing: Promise<void> | undefined;
  const close = (graceMs = 2_000) => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return {
    address,
    close,
    closeNow() {
      const closed = close(0);
      server.closeAllConnections();
      return closed;
    },
  };
}
