import { pino, type Logger, type DestinationStream } from 'pino';
import { scrub } from './secrets.js';

/**
 * Errors are serialised by us, not by pino's default serializer, which walks
 * every enumerable property: got and ioredis errors carry request headers and
 * command arguments. Only the name, code and message travel, for the error and
 * its causes, and every finished line is scrubbed of registered secrets.
 */
export function serializeError(error: unknown, depth = 0): Record<string, unknown> | string {
  if (!(error instanceof Error)) return typeof error === 'string' ? scrub(error) : 'non-error thrown';
  const code = (error as { code?: unknown }).code;
  const out: Record<string, unknown> = { type: error.name, message: scrub(error.message) };
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && depth < 3) out.cause = serializeError(cause, depth + 1);
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
      hooks: { streamWrite: (line: string) => scrub(line) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
