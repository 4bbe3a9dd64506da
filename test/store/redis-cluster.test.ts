/**
 * Redis Cluster refuses a script whose keys hash to different slots (CROSSSLOT), even on a single
 * node. A one-node cluster therefore proves the key layout: every script's keys share one slot.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import { TOKEN_SHARDS, redisKeys, tokenShard } from '../../src/store/redis-keys.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { tokenStoreContract } from './contract.js';
import { legacyLayoutSuite } from './legacy-suite.js';

let server: RedisServer;
let raw: Redis;

beforeAll(async () => {
  server = await startRedis({ args: [
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
    // A lone node does not know its own address and would advertise "" in CLUSTER SLOTS.
    '--cluster-announce-ip', '127.0.0.1',
  ] });
  raw = new Redis(server.url);
  await raw.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await vi.waitFor(async () => expect(await raw.call('CLUSTER', 'INFO')).toContain('cluster_state:ok'), { timeout: 10_000, interval: 50 });
});
afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});

tokenStoreContract('redis cluster', async () => {
  const store = new RedisTokenStore({ cluster: [server.url] });
  return {
    store,
    raw: {
      deleteRecord: async (identityId, jti) => void (await raw.del(store.keys.token(identityId, jti))),
      recordExists: async (identityId, jti) => (await raw.exists(store.keys.token(identityId, jti))) === 1,
    },
  };
}, { revokeAllClock: 'store' });

{
  let store: RedisTokenStore;
  let client: Cluster;
  beforeAll(() => {
    store = new RedisTokenStore({ cluster: [server.url] });
    client = new Cluster([server.url]);
  });
  afterAll(async () => {
    client?.disconnect();
    await store?.close();
  });
  legacyLayoutSuite('redis cluster', () => ({ store, raw: client }));
}

describe('Redis key layout under cluster', () => {
  it('puts a token and its shard\'s watermark in one hash slot, and the identity\'s counts in another', async () => {
    const keys = redisKeys();
    const slot = (key: string) => raw.call('CLUSTER', 'KEYSLOT', key);
    for (const [identityId, jti] of [['build-agents', 'f3a1c2'], ['a.b-c', 'x{y}z']] as const) {
      expect(await slot(keys.token(identityId, jti))).toBe(await slot(keys.revokedBefore(identityId, tokenShard(jti))));
      // The home slot: counts, rate, and the previous layout's token and watermark.
      const home = await slot(keys.outstanding(identityId));
      for (const k of [keys.revoking(identityId), keys.revokingStamp(identityId), keys.loginRate(identityId), keys.legacyToken(identityId, jti), keys.legacyRevokedBefore(identityId)]) {
        expect(await slot(k)).toBe(home);
      }
    }
    // The shards of one identity are different slots.
    const shardSlots = new Set(await Promise.all(Array.from({ length: TOKEN_SHARDS }, (_, s) => slot(keys.revokedBefore('build-agents', s)))));
    expect(shardSlots.size).toBe(TOKEN_SHARDS);
    // The certificate index and its marker share the certificate's tag (the other keys a
    // certificate revoke touches are single-key commands; see redisKeys).
    expect(await slot(keys.cert('ab'.repeat(32)))).toBe(await slot(keys.revokedCert('ab'.repeat(32))));
  });
});
