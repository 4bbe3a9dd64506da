import type { Config } from '../config/load.js';
import { createTokenStore } from './index.js';
import { RedisTokenStore } from './redis.js';
import type { TokenStore } from './types.js';

/** The store `store:` describes: cluster or sentinel when given, else `url` (memory or redis). */
export function storeFromConfig(config: Pick<Config, 'store' | 'server'>, onError?: (e: Error) => void): TokenStore {
  const commandTimeoutMs = config.server.storeTimeoutMs;
  const { cluster, sentinel, url } = config.store;
  if (cluster) return new RedisTokenStore({ cluster, commandTimeoutMs, onError });
  if (sentinel) return new RedisTokenStore({ sentinel, commandTimeoutMs, onError });
  return createTokenStore(url, { commandTimeoutMs, onError });
}
