import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A private redis-server on a free loopback port, stopped by PID. */
export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(extraArgs: string[] = [], port?: number): Promise<RedisServer> {
  let lastError: unknown;
  // A free port can be taken between the probe and redis's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const chosen = port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'cw-redis-'));
    const child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const url = `redis://127.0.0.1:${chosen}`;
    try {
      await waitForRedis(url, child);
      return {
        url,
        port: chosen,
        pid: child.pid!,
        process: child,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            process.kill(child.pid!, 'SIGKILL');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      if (port !== undefined) break;
    }
  }
  throw new Error(`could not start redis-server: ${(lastError as Error)?.message}`);
}

async function waitForRedis(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // refused while redis starts: expected, retried below
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('redis-server did not answer within 10 s');
}
