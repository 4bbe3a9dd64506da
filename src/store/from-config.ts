import type { Config } from '../config/load.js';
import { createTokenStore } from './index.js';
import { RedisTokenStore } from './redis.js';
import type { PolicyVerdict } from './redis-policy.js';
import type { TokenStore } from './types.js';

/** The store `store:` describes: cluster or sentinel when given, else `url` (memory or redis). */
export function storeFromConfig(
  config: Pick<Config, 'store' | 'server'>,
  onError?: (e: Error) => void,
  onPolicy?: (v: PolicyVerdict) => void,
): TokenStore {
  const commandTimeoutMs = config.server.storeTimeoutMs;
  const { cluster, sentinel, url } = config.store;
  if (cluster) return new RedisTokenStore({ cluster, commandTimeoutMs, onError, onPolicy });
  if (sentinel) return new RedisTokenStore({ sentinel, commandTimeoutMs, onError, onPolicy });
  return createTokenStore(url, { commandTimeoutMs, onError, onPolicy });
}
