/** Small text helpers for the admin commands' human output (JSON output never goes through them). */

/** Columns padded to their widest cell, two spaces apart, trailing spaces trimmed. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** `512 B`, `1.2 KiB`, `3.4 MiB`: binary units, as Redis's own INFO reports memory. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** `45s`, `12m 5s`, `3h 20m`, `29d 23h`: the two largest units, enough to act on. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  const first = units.findIndex(([, size]) => s >= size);
  const [bigName, bigSize] = units[first]!;
  const [smallName, smallSize] = units[first + 1]!;
  const big = Math.floor(s / bigSize);
  const small = Math.floor((s - big * bigSize) / smallSize);
  return small ? `${big}${bigName} ${small}${smallName}` : `${big}${bigName}`;
}
