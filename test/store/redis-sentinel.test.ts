/** The store finds its master through Sentinel, and keeps the full contract there. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import { startRedis, startRedisSentinel, type RedisServer, type RedisSentinel } from '../helpers/launcher.js';
import { tokenStoreContract } from './contract.js';

let master: RedisServer;
let sentinel: RedisSentinel;
let raw: Redis;

beforeAll(async () => {
  master = await startRedis();
  sentinel = await startRedisSentinel('certgate-master', master.port);
  raw = new Redis(master.url);
});
afterAll(async () => {
  raw?.disconnect();
  await sentinel?.stop();
  await master?.stop();
});

tokenStoreContract('redis via sentinel', async () => {
  const store = new RedisTokenStore({ sentinel: { name: 'certgate-master', sentinels: [sentinel.address] } });
  return {
    store,
    raw: {
      deleteRecord: async (identityId, jti) => void (await raw.del(store.keys.token(identityId, jti))),
      recordExists: async (identityId, jti) => (await raw.exists(store.keys.token(identityId, jti))) === 1,
    },
  };
}, { revokeAllClock: 'store' });
