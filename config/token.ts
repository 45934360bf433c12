import { readFileSync } from 'node:fs';
import { ConfigError } from '../src/shared/errors.js';
import { registerSecret } from '../src/shared/secrets.js';

/** How long a secret read from a file is reused: a rotation is picked up within this, without a read per request. */
const SECRET_FILE_REREAD_MS = 1_000;

/** The token, from UPSTREAM_TOKEN or else the token file, read again at most every second so a rotation is picked up. */
export function resolveToken(token: string, tokenFile: string): () => string {
  if (token) return () => token;
  if (!tokenFile) throw new ConfigError('upstream.token: missing (set UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE)');
  return secretFile(tokenFile, 'upstream.tokenFile');
}

/**
 * An optional secret (the HTTP admin token): the value when given, else the
 * file's content (read like the upstream token's file), else always ''.
 */
export function resolveOptionalSecret(value: string, file: string, fileSetting: string): () => string {
  if (value) return () => value;
  if (!file) return () => '';
  return secretFile(file, fileSetting);
}

/**
 * Reads a secret from a file now (a missing or empty file is a ConfigError)
 * and again at most once a second. Every value read is registered as a
 * secret before it is returned, so it is scrubbed from any log line.
 */
function secretFile(path: string, setting: string): () => string {
  let cached = '';
  let readAt = 0;
  const read = () => {
    if (cached && Date.now() - readAt < SECRET_FILE_REREAD_MS) return cached;
    let text: string;
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch (error) {
      // Mid-rotation the file may be briefly missing: keep the last good value.
      if (cached) return cached;
      throw new ConfigError(`${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    if (!text) {
      if (cached) return cached;
      throw new ConfigError(`${setting}: ${path} is empty`);
    }
    registerSecret(text);
    cached = text;
    readAt = Date.now();
    return text;
  };
  read();
  return read;
}
