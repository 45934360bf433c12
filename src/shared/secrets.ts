/**
 * Secrets are stripped where text is made, and once more where it leaves the
 * process (logs, the status store): a registry of the values to hide, filled
 * when the configuration is loaded, so that any string can be scrubbed.
 */
const secrets = new Set<string>();

/** Registers a secret (the upstream token, a Redis password). Short values are ignored: they would mask ordinary words. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function forgetSecrets(): void {
  secrets.clear();
}

/** Replaces every registered secret (and its URL-encoded form) in `text` with `[redacted]`. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      if (out.includes(form)) out = out.split(form).join('[redacted]');
    }
  }
  return out;
}

/** A URL with its password (and user) replaced, for logs: `redis://:***@host:6379/0`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparsable url]';
  }
}
