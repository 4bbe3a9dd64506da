import { MemoryTokenStore, type MemoryTokenStoreOptions } from './memory.js';
import { redact } from './redis-connection.js';
import { RedisTokenStore, type RedisTokenStoreOptions } from './redis.js';
import type { TokenStore } from './types.js';

export * from './types.js';
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './memory.js';
export { RedisTokenStore, type RedisTokenStoreOptions, type RedisTarget } from './redis.js';
export { redisKeys } from './redis-keys.js';

/** Tuning passed through to whichever store the URL selects. */
export type TokenStoreTuning = Omit<RedisTokenStoreOptions, 'url' | 'cluster' | 'sentinel'> & MemoryTokenStoreOptions;

/**
 * `store.url` → a store: `memory` (one process) or `redis://` / `rediss://`. For cluster or
 * sentinel construct RedisTokenStore with `{cluster}` / `{sentinel}` directly.
 */
export function createTokenStore(url: string, tuning: TokenStoreTuning = {}): TokenStore {
  const u = url.trim();
  if (u === 'memory') return new MemoryTokenStore(tuning);
  if (/^rediss?:\/\//i.test(u)) return new RedisTokenStore({ ...tuning, url: u });
  throw new Error(`store.url must be "memory" or a redis:// / rediss:// URL, got ${JSON.stringify(redact(u))}`);
}
