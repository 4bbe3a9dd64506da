import { describe, expect, it } from 'vitest';
import { createTokenStore } from '../../src/store/index.js';
import { redact } from '../../src/store/redis-connection.js';

describe('Redis URLs in messages', () => {
  it.each([
    ['redis://:p@ss@host:6379/0', 'redis://***@host:6379/0'],
    ['REDIS://user:pw@h', 'REDIS://***@h'],
    ['rediss://h:6380', 'rediss://h:6380'],
  ])('redacts %s', (url, shown) => {
    expect(redact(url)).toBe(shown);
  });

  it('never echoes a password in a refusal', () => {
    expect(() => createTokenStore('mysql://root:hunter2@db')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });
});
