import { createHash } from 'node:crypto';

/**
 * A strict Content-Security-Policy for a self-contained HTML document: no
 * source but its own inline <script> and <style> elements, each allowed by
 * the sha256 of its exact text (no 'unsafe-inline': an injected script or
 * style attribute does not run), fetches to its own origin, data: images.
 * Computed from the HTML served, so it cannot drift from the page.
 */
export function contentSecurityPolicy(html: string): string {
  const hashes = (tag: 'script' | 'style') =>
    [...html.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}\\s*>`, 'gi'))]
      .filter((m) => !/\ssrc\s*=/i.test(m[0].slice(0, m[0].indexOf('>'))))
      .map((m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
  const scripts = hashes('script');
  const styles = hashes('style');
  return [
    "default-src 'none'",
    `script-src ${scripts.length ? [...new Set(scripts)].join(' ') : "'none'"}`,
    `style-src ${styles.length ? [...new Set(styles)].join(' ') : "'none'"}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
