import { readFileSync } from 'node:fs';
import { ConfigError } from '../src/shared/errors.js';
import { registerSecret } from '../src/shared/secrets.js';

/** How long a token read from the file is reused: a rotation is picked up within this, without a read per request. */
const TOKEN_FILE_REREAD_MS = 1_000;

/** The token, from UPSTREAM_TOKEN or else the token file, read again at most every second so a rotation is picked up. */
export function resolveToken(token: string, tokenFile: string): () => string {
  if (token) return () => token;
  if (!tokenFile) throw new ConfigError('upstream.token: missing (set UPSTREAM_TOKEN or UPSTREAM_TOKEN_FILE)');
  let cached = '';
  let readAt = 0;
  const read = () => {
    if (cached && Date.now() - readAt < TOKEN_FILE_REREAD_MS) return cached;
    let text: string;
    try {
      text = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      // Mid-rotation the file may be briefly missing: keep the last good token.
      if (cached) return cached;
      throw new ConfigError(`upstream.tokenFile: cannot read ${tokenFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    if (!text) {
      if (cached) return cached;
      throw new ConfigError(`upstream.tokenFile: ${tokenFile} is empty`);
    }
    registerSecret(text);
    cached = text;
    readAt = Date.now();
    return text;
  };
  read();
  return read;
}
