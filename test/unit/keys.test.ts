import { describe, expect, it } from 'vitest';
import { compileKeyTemplate, internalKeys } from '../../src/cache/keys.js';
import { KeyError } from '../../src/shared/errors.js';

function keyError(fn: () => unknown): KeyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    expect((error as KeyError).code).toBe('ERR_KEY_INVALID');
    return error as KeyError;
  }
  throw new Error('expected a KeyError, nothing was thrown');
}

describe('compileKeyTemplate', () => {
  const leaderboard = compileKeyTemplate('project:{id}:leaderboard:{type}');

  it('lists the placeholders in template order', () => {
    expect(leaderboard.template).toBe('project:{id}:leaderboard:{type}');
    expect(leaderboard.placeholders).toEqual(['id', 'type']);
    expect(compileKeyTemplate('projects:list:{scope}').placeholders).toEqual(['scope']);
    expect(compileKeyTemplate('status:jobs').placeholders).toEqual([]);
  });

  it('builds keys under the prefix with the exact digits of an id', () => {
    expect(leaderboard.build('zsxq', { id: '82811825141841812', type: 'continuous' })).toBe(
      'zsxq:project:82811825141841812:leaderboard:continuous',
    );
    expect(compileKeyTemplate('project:{id}:topics').build('test-1a2b', { id: '2424141521' })).toBe('test-1a2b:project:2424141521:topics');
    expect(compileKeyTemplate('projects:list:{scope}').build('zsxq', { scope: 'ongoing' })).toBe('zsxq:projects:list:ongoing');
  });

  it('accepts the largest 64-bit id', () => {
    expect(compileKeyTemplate('project:{id}').build('p', { id: '18446744073709551615' })).toBe('p:project:18446744073709551615');
  });

  it('rejects an id that is not only decimal digits', () => {
    const topics = compileKeyTemplate('project:{id}:topics');
    for (const id of ['12a', '-1', '1.5', '1:2', '1*', '1 2', '', '123456789012345678901']) {
      const error = keyError(() => topics.build('zsxq', { id }));
      expect(error.message).toContain('{id}');
    }
  });

  it('rejects a placeholder value that would add a segment, a glob or a space to the key', () => {
    for (const type of ['a:b', 'a*', 'a b', '?', '[ab]', '', 'x'.repeat(33), 'a\nb']) {
      const error = keyError(() => leaderboard.build('zsxq', { id: '1', type }));
      expect(error.message).toContain('{type}');
    }
  });

  it('rejects a build that lacks a value for a placeholder', () => {
    expect(keyError(() => leaderboard.build('zsxq', { id: '1' })).message).toContain('no value for {type}');
    expect(keyError(() => leaderboard.build('zsxq', { type: 'continuous' })).message).toContain('no value for {id}');
    // A misspelt parameter name is a missing one.
    expect(keyError(() => leaderboard.build('zsxq', { id: '1', typ: 'continuous' })).message).toContain('{type}');
  });

  it('rejects templates with characters outside a-z 0-9 _ - : and placeholders', () => {
    for (const template of ['project:{id}:*', 'project {id}', 'Project:{id}', 'project:{ID}', 'project:{id', 'project:{a:b}', 'project:{a b}', 'project:{id}:?']) {
      const error = keyError(() => compileKeyTemplate(template));
      expect(error.message).toContain(`"${template}"`);
    }
  });

  it('rejects an empty template and one that starts with a colon', () => {
    keyError(() => compileKeyTemplate(''));
    keyError(() => compileKeyTemplate(':project:{id}'));
  });

  it('rejects a template that repeats a placeholder', () => {
    expect(keyError(() => compileKeyTemplate('project:{id}:copy:{id}')).message).toContain('repeats a placeholder');
  });
});

describe('internalKeys', () => {
  it('puts every internal key under the prefix as a hash tag, so that a cluster keeps them in one slot', () => {
    expect(internalKeys.status('zsxq', 'topics')).toBe('{zsxq}:status:topics');
    expect(internalKeys.statusBuckets('zsxq', 'topics')).toBe('{zsxq}:status:topics:buckets');
    expect(internalKeys.statusJobs('zsxq')).toBe('{zsxq}:status:jobs');
    expect(internalKeys.goneProjects('zsxq')).toBe('{zsxq}:projects:gone');
    expect(internalKeys.upstreamRateLimit('zsxq')).toBe('{zsxq}:ratelimit:upstream');
  });
});
