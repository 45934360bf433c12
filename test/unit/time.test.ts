import { describe, expect, it } from 'vitest';
import { isTimeZone, localDate, upstreamTimestamp } from '../../src/shared/time.js';

const SHANGHAI = 'Asia/Shanghai';
const NEW_YORK = 'America/New_York';

describe('localDate', () => {
  it('is the Shanghai day of an instant, which starts at 16:00 UTC the day before', () => {
    expect(localDate(new Date('2025-12-10T08:00:00Z'), SHANGHAI)).toBe('2025-12-10');
    expect(localDate(new Date('2025-12-10T15:59:59.999Z'), SHANGHAI)).toBe('2025-12-10');
    expect(localDate(new Date('2025-12-10T16:00:00.000Z'), SHANGHAI)).toBe('2025-12-11');
    expect(localDate(new Date('2025-12-10T16:30:00Z'), SHANGHAI)).toBe('2025-12-11');
  });

  it('crosses month and year ends in the zone, not in UTC', () => {
    expect(localDate(new Date('2025-12-31T16:30:00Z'), SHANGHAI)).toBe('2026-01-01');
    expect(localDate(new Date('2026-01-01T03:00:00Z'), NEW_YORK)).toBe('2025-12-31');
  });

  it('follows daylight saving time in New York', () => {
    // EST (-05:00) in winter: local midnight is 05:00 UTC.
    expect(localDate(new Date('2025-01-15T04:59:59Z'), NEW_YORK)).toBe('2025-01-14');
    expect(localDate(new Date('2025-01-15T05:00:00Z'), NEW_YORK)).toBe('2025-01-15');
    // EDT (-04:00) in summer: local midnight is 04:00 UTC.
    expect(localDate(new Date('2025-07-15T03:59:59Z'), NEW_YORK)).toBe('2025-07-14');
    expect(localDate(new Date('2025-07-15T04:00:00Z'), NEW_YORK)).toBe('2025-07-15');
  });
});

describe('upstreamTimestamp', () => {
  it('writes the instant as Shanghai wall time with milliseconds and +0800', () => {
    expect(upstreamTimestamp(new Date('2025-12-10T08:27:42.892Z'), SHANGHAI)).toBe('2025-12-10T16:27:42.892+0800');
  });

  it('rolls over to the next local day at 16:00 UTC and writes midnight as 00, not 24', () => {
    expect(upstreamTimestamp(new Date('2025-12-10T16:00:00.000Z'), SHANGHAI)).toBe('2025-12-11T00:00:00.000+0800');
    expect(upstreamTimestamp(new Date('2025-12-10T16:30:00.005Z'), SHANGHAI)).toBe('2025-12-11T00:30:00.005+0800');
  });

  it('uses the offset in force at the instant across a New York DST change', () => {
    // 2025-03-09: clocks go from 02:00 EST to 03:00 EDT.
    expect(upstreamTimestamp(new Date('2025-03-09T06:30:00.000Z'), NEW_YORK)).toBe('2025-03-09T01:30:00.000-0500');
    expect(upstreamTimestamp(new Date('2025-03-09T07:30:00.000Z'), NEW_YORK)).toBe('2025-03-09T03:30:00.000-0400');
    // 2025-11-02: back from EDT to EST; 01:30 happens twice.
    expect(upstreamTimestamp(new Date('2025-11-02T05:30:00.000Z'), NEW_YORK)).toBe('2025-11-02T01:30:00.000-0400');
    expect(upstreamTimestamp(new Date('2025-11-02T06:30:00.000Z'), NEW_YORK)).toBe('2025-11-02T01:30:00.000-0500');
  });

  it('writes offsets with minutes and offsets of zero', () => {
    expect(upstreamTimestamp(new Date('2025-06-01T12:00:00.000Z'), 'Asia/Kolkata')).toBe('2025-06-01T17:30:00.000+0530');
    expect(upstreamTimestamp(new Date('2025-01-15T12:00:00.000Z'), 'America/St_Johns')).toBe('2025-01-15T08:30:00.000-0330');
    expect(upstreamTimestamp(new Date('2025-06-01T12:00:00.000Z'), 'UTC')).toBe('2025-06-01T12:00:00.000+0000');
  });

  it('keeps the milliseconds and the offset right for an instant before 1970', () => {
    expect(upstreamTimestamp(new Date('1969-12-31T23:59:59.500Z'), 'UTC')).toBe('1969-12-31T23:59:59.500+0000');
  });

  it('agrees with localDate on the day it names', () => {
    for (const iso of ['2025-12-10T15:59:59.999Z', '2025-12-10T16:00:00.000Z', '2025-02-28T23:00:00.000Z']) {
      const instant = new Date(iso);
      expect(upstreamTimestamp(instant, SHANGHAI).slice(0, 10)).toBe(localDate(instant, SHANGHAI));
    }
  });

  it('names the same instant it was given', () => {
    const instant = new Date('2025-12-10T16:27:42.892Z');
    for (const zone of [SHANGHAI, NEW_YORK, 'Asia/Kolkata', 'UTC']) {
      const text = upstreamTimestamp(instant, zone);
      const iso = text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
      expect(new Date(iso).getTime(), zone).toBe(instant.getTime());
    }
  });
});

describe('isTimeZone', () => {
  it('accepts IANA zones Intl knows', () => {
    expect(isTimeZone(SHANGHAI)).toBe(true);
    expect(isTimeZone(NEW_YORK)).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
  });

  it('rejects names that are not zones', () => {
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('Shanghai')).toBe(false);
    expect(isTimeZone('banana')).toBe(false);
  });
});
