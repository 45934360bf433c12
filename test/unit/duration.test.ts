import { describe, expect, it } from 'vitest';
import { DURATION_HINT, formatDuration, parseDuration, ttlSeconds } from '../../src/shared/duration.js';

describe('parseDuration', () => {
  it('takes a non-negative integer number as milliseconds', () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration(300_000)).toBe(300_000);
  });

  it('reads each unit of the small grammar', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
  });

  it('reads a bare digit string as milliseconds and tolerates surrounding spaces', () => {
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration(' 5m ')).toBe(300_000);
  });

  it('rejects words, prose and unknown units', () => {
    for (const input of ['banana', '5 minutes', '5min', '5M', '1w', 'm5', '', 'ms']) {
      expect(parseDuration(input), input).toBeUndefined();
    }
  });

  it('rejects fractions, so that 1.5h cannot silently become another cadence', () => {
    expect(parseDuration('1.5h')).toBeUndefined();
    expect(parseDuration('0.5s')).toBeUndefined();
    expect(parseDuration(1.5)).toBeUndefined();
  });

  it('rejects negative durations, as strings and as numbers', () => {
    expect(parseDuration('-5s')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });

  it('rejects numbers that are not safe integers and values of other types', () => {
    expect(parseDuration(Number.NaN)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseDuration(2 ** 53)).toBeUndefined();
    expect(parseDuration('999999999999d')).toBeUndefined();
    expect(parseDuration(null)).toBeUndefined();
    expect(parseDuration(undefined)).toBeUndefined();
    expect(parseDuration(true)).toBeUndefined();
    expect(parseDuration({ ms: 5 })).toBeUndefined();
  });

  it('offers a hint made of durations it accepts', () => {
    const examples = DURATION_HINT.replace(/^e\.g\.\s*/, '').split(/,\s*/);
    expect(examples.length).toBeGreaterThan(1);
    for (const example of examples) expect(parseDuration(example), example).toBeGreaterThan(0);
  });
});

describe('formatDuration', () => {
  it('writes the largest unit that divides the duration exactly', () => {
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(30_000)).toBe('30s');
  });

  it('falls back to a smaller unit rather than rounding', () => {
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0ms');
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_000, 900_000, 7_200_000, 172_800_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});

describe('ttlSeconds', () => {
  it('converts whole seconds exactly', () => {
    expect(ttlSeconds(600_000)).toBe(600);
    expect(ttlSeconds(1000)).toBe(1);
  });

  it('rounds a partial second up', () => {
    expect(ttlSeconds(1500)).toBe(2);
    expect(ttlSeconds(1001)).toBe(2);
  });

  it('gives at least one second, since Redis EX refuses zero', () => {
    expect(ttlSeconds(1)).toBe(1);
    expect(ttlSeconds(0)).toBe(1);
  });
});
