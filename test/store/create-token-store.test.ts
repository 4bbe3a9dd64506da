import { describe, expect, it } from 'vitest';
import { MemoryTokenStore, RedisTokenStore, createTokenStore } from '../../src/store/index.js';
import { freePort } from '../helpers/ports.js';

describe('createTokenStore(store.url)', () => {
  it('builds the in-memory store for "memory"', async () => {
    const store = createTokenStore('memory');
    expect(store).toBeInstanceOf(MemoryTokenStore);
    expect(store.kind).toBe('memory');
    await store.close();
  });

  it('builds the Redis store for redis:// and rediss:// URLs', async () => {
    const port = await freePort();
    for (const url of [`redis://127.0.0.1:${port}/0`, `rediss://127.0.0.1:${port}`]) {
      const store = createTokenStore(url, { commandTimeoutMs: 100 });
      expect(store).toBeInstanceOf(RedisTokenStore);
      expect(store.kind).toBe('redis');
      // Nothing listens there: a readiness probe says so instead of hanging.
      await expect(store.ping()).rejects.toMatchObject({ code: 'store_unavailable' });
      await store.close();
    }
  });

  it('rejects anything else with a readable error that does not echo the password', () => {
    expect(() => createTokenStore('postgres://user:hunter2@db/x')).toThrow(/store\.url must be "memory" or a redis:\/\/.*postgres:\/\/\*\*\*@db/);
    expect(() => createTokenStore('postgres://user:hunter2@db/x')).not.toThrow(/hunter2/);
    expect(() => createTokenStore('')).toThrow(/store\.url must be/);
  });
});
