import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/**
 * V8's heap sized for a daemon whose live data is small and whose garbage
 * comes in bursts (issue 4; figures in the README, "Memory").
 *
 * V8's defaults suit a browser tab or a throughput job on a big machine: the
 * old generation may grow to 4× the live data before a full collection, and
 * the young generation's semi-spaces grow to 16 MB each, a size they reach
 * while the modules load and then keep. For this daemon (about 40 MB live
 * while warming 10,000 projects) that is a peak of 310–370 MB resident, most
 * of it garbage waiting to be collected. Less room means more collections:
 * the defaults (50 %, 8 MB) took the benchmark's peak from 308 to 186 MB for
 * 2 % of keys/s; 20 % and 4 MB, in another run, from 363 to 167 MB for 15 %
 * (README, "Memory").
 *
 * Both are set at run time, from the configuration, so that `cache-warmer
 * run` is lean however it is started (container, npm start, the bin, a
 * process manager): node's own flags cannot be put in NODE_OPTIONS for
 * `--heap-growing-percent`, and a launcher would come between the daemon and
 * its signals. V8 reads both flags each time it resizes a generation, which
 * is what makes them settable after start. A flag given on the command line or in
 * NODE_OPTIONS wins: the setting it would override is left alone.
 */
export interface HeapSettings {
  /** Growth of the old generation past the live data before the next full collection, in percent; 0: V8's own (up to 300 %). */
  growthPercent: number;
  /** Largest semi-space of the young generation, in MB; 0: V8's own (16 MB). */
  semiSpaceMb: number;
}

/** V8's default growth factor of the young generation (`--semi-space-growth-factor`). */
const V8_SEMI_SPACE_GROWTH = 2;

/** The flags node was started with (command line and NODE_OPTIONS), spelt with dashes: V8 takes `--max_semi_space_size` too. */
function startFlags(): string {
  return `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.replace(/--[\w-]+/g, (flag) => flag.replace(/_/g, '-'));
}

/** `--max-heap-size` counts: V8 derives the young generation's size from it. */
const youngGenerationSetAtStart = () => /--(max-semi-space-size|semi-space-growth-factor|max-heap-size)\b/.test(startFlags());

/**
 * While the modules load: the young generation stays at its first size
 * (1 MB semi-spaces), so that loading does not grow it to its maximum, which
 * V8 would then keep for the life of the process. Called by the CLI's first
 * import, before any other module is evaluated; holdHeap takes over once the
 * configuration is read.
 */
export function holdYoungGenerationWhileLoading(): void {
  if (!youngGenerationSetAtStart()) v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/** What holdHeap applied, for the start-up log line. */
export interface HeapApplied {
  growthPercent: number | 'v8' | 'flag';
  semiSpaceMb: number | 'v8' | 'flag';
}

/**
 * Applies `settings` and keeps the young generation at its cap: V8 doubles a
 * semi-space when many objects survive a scavenge (1, 2, 4 … 16 MB); after
 * each collection the growth factor is set to 1 once the cap is reached and
 * back to V8's 2 while below it (V8 also shrinks it when idle). A soft cap,
 * unlike `--max-semi-space-size`, which V8 reads only at start: collections
 * are reported to the observer after the fact, so a burst of several within
 * one turn of the event loop can double the size past the cap, until V8
 * shrinks it again. Returns a stop function.
 */
export function holdHeap(settings: HeapSettings): { applied: HeapApplied; stop: () => void } {
  const flags = startFlags();
  let growthPercent: HeapApplied['growthPercent'] = 'v8';
  if (/--heap-growing-percent\b/.test(flags)) growthPercent = 'flag';
  else if (settings.growthPercent > 0) {
    v8.setFlagsFromString(`--heap-growing-percent=${settings.growthPercent}`);
    growthPercent = settings.growthPercent;
  }
  if (youngGenerationSetAtStart()) return { applied: { growthPercent, semiSpaceMb: 'flag' }, stop: () => {} };
  if (settings.semiSpaceMb <= 0) {
    v8.setFlagsFromString(`--semi-space-growth-factor=${V8_SEMI_SPACE_GROWTH}`);
    return { applied: { growthPercent, semiSpaceMb: 'v8' }, stop: () => {} };
  }
  const capBytes = settings.semiSpaceMb * 1024 * 1024;
  let factor = 0;
  const adjust = () => {
    const next = semiSpaceBytes() >= capBytes ? 1 : V8_SEMI_SPACE_GROWTH;
    if (next !== factor) {
      v8.setFlagsFromString(`--semi-space-growth-factor=${next}`);
      factor = next;
    }
  };
  adjust();
  const observer = new PerformanceObserver(adjust);
  observer.observe({ entryTypes: ['gc'] });
  return { applied: { growthPercent, semiSpaceMb: settings.semiSpaceMb }, stop: () => observer.disconnect() };
}

/** The current size of one semi-space: the new space commits two of them. */
export function semiSpaceBytes(): number {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space ? space.space_size / 2 : 0;
}
