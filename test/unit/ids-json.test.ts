import { describe, expect, it } from 'vitest';
import { parseUpstreamJson } from '../../src/upstream/json.js';
import { isIdString, toIdString } from '../../src/shared/ids.js';
import { KeyError } from '../../src/shared/errors.js';

describe('parseUpstreamJson', () => {
  it('keeps an id above 2^53 exact, as a bigint', () => {
    const body = parseUpstreamJson('{"topic_id": 82811825141841812, "topic_uid": "82811825141841812"}') as Record<string, unknown>;
    expect(typeof body.topic_id).toBe('bigint');
    expect(body.topic_id).toBe(82811825141841812n);
    expect(String(body.topic_id)).toBe('82811825141841812');
    expect(body.topic_uid).toBe('82811825141841812');
    // What a plain JSON.parse would have produced: the last digits change.
    expect(String((JSON.parse('{"id": 82811825141841812}') as { id: number }).id)).not.toBe('82811825141841812');
  });

  it('keeps the first integer beyond 2^53 and negative big integers exact', () => {
    const body = parseUpstreamJson('[9007199254740993, -82811825141841812]') as unknown[];
    expect(body).toEqual([9007199254740993n, -82811825141841812n]);
  });

  it('leaves safe integers as numbers', () => {
    const body = parseUpstreamJson('{"checkin_id": 2424141521, "group_id": 15555411412112, "n": 0, "max": 9007199254740991}');
    expect(body).toStrictEqual({ checkin_id: 2424141521, group_id: 15555411412112, n: 0, max: 9007199254740991 });
  });

  it('leaves fractions and exponents as numbers', () => {
    const body = parseUpstreamJson('{"ratio": 0.25, "big": 1e21, "neg": -3.5}');
    expect(body).toStrictEqual({ ratio: 0.25, big: 1e21, neg: -3.5 });
  });

  it('parses strings, booleans, null and nesting like JSON.parse', () => {
    const text = '{"succeeded": true, "resp_data": {"topics": [], "title": "新手实战指南", "x": null, "y": false}}';
    expect(parseUpstreamJson(text)).toStrictEqual(JSON.parse(text));
  });

  it('does not let a __proto__ key pollute Object.prototype or change the object’s prototype', () => {
    const body = parseUpstreamJson('{"__proto__": {"polluted": "yes"}, "a": {"__proto__": {"isAdmin": true}}}') as Record<string, any>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(body.a)).toBe(Object.prototype);
    expect(body.polluted).toBeUndefined();
    expect(body.a.isAdmin).toBeUndefined();
    expect(Object.keys(body)).toContain('__proto__');
  });

  it('throws on a body that is not JSON', () => {
    expect(() => parseUpstreamJson('<html>502 Bad Gateway</html>')).toThrow();
    expect(() => parseUpstreamJson('')).toThrow();
  });
});

describe('toIdString', () => {
  it('writes a bigint with all its digits', () => {
    expect(toIdString(82811825141841812n)).toBe('82811825141841812');
  });

  it('writes a safe integer and keeps a digit string as is', () => {
    expect(toIdString(2424141521)).toBe('2424141521');
    expect(toIdString(0)).toBe('0');
    expect(toIdString('82811825141841812')).toBe('82811825141841812');
  });

  it('refuses a number that has already lost digits', () => {
    expect(() => toIdString(82811825141841812)).toThrow(KeyError);
    expect(() => toIdString(2 ** 53)).toThrow(KeyError);
  });

  it('refuses fractions, negatives, non-digit strings and other types', () => {
    for (const value of [1.5, -1, -5n, '12a', '', ' 12', '1:2', '123456789012345678901', null, undefined, {}, true]) {
      expect(() => toIdString(value), String(value)).toThrow(KeyError);
    }
  });

  it('names what was refused and the value, with a stable code', () => {
    try {
      toIdString('12:34', 'project_id');
      expect.unreachable();
    } catch (error) {
      expect((error as KeyError).code).toBe('ERR_KEY_INVALID');
      expect((error as Error).message).toBe('project_id is not a decimal id: "12:34"');
    }
  });

  it('shows a refused bigint as its digits without throwing while describing it', () => {
    expect(() => toIdString(-82811825141841812n)).toThrow('id is not a decimal id: "-82811825141841812"');
  });
});

describe('isIdString', () => {
  it('accepts only strings of 1 to 20 decimal digits', () => {
    expect(isIdString('82811825141841812')).toBe(true);
    expect(isIdString('0')).toBe(true);
    expect(isIdString('')).toBe(false);
    expect(isIdString('12a')).toBe(false);
    expect(isIdString('123456789012345678901')).toBe(false);
    expect(isIdString(123)).toBe(false);
    expect(isIdString(123n)).toBe(false);
  });
});
