import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { UpstreamError } from './errors.js';

/** Decompresses a body, refusing to produce more than `maxBytes` (a gzip bomb stops there). */
export function decodeBody(route: string, raw: Buffer, encoding: string | undefined, maxBytes: number): string {
  const codec = (encoding ?? 'identity').trim().toLowerCase();
  let out: Buffer;
  try {
    if (codec === 'gzip' || codec === 'x-gzip') out = gunzipSync(raw, { maxOutputLength: maxBytes });
    else if (codec === 'deflate') out = inflateSync(raw, { maxOutputLength: maxBytes });
    else if (codec === 'br') out = brotliDecompressSync(raw, { maxOutputLength: maxBytes });
    else if (codec === 'identity' || codec === '') out = raw;
    else throw new UpstreamError('ERR_UPSTREAM_BAD_BODY', `${route}: unsupported content-encoding ${JSON.stringify(codec.slice(0, 20))}`);
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UpstreamError('ERR_UPSTREAM_TOO_LARGE', `${route}: body over ${maxBytes} bytes, cut off (decompressed)`, { cause: error });
    }
    throw new UpstreamError('ERR_UPSTREAM_BAD_BODY', `${route}: body does not decompress as ${codec}`, { cause: error });
  }
  if (out.length > maxBytes) throw new UpstreamError('ERR_UPSTREAM_TOO_LARGE', `${route}: body over ${maxBytes} bytes, cut off`);
  return out.toString('utf8');
}
