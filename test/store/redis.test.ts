import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { tokenStoreContract } from './contract.js';
import { T0, limited, makeRecord } from './fixtures.js';

let server: RedisServer;
/** A plain client, to look at (and tamper with) keys behind the store's back. */
let raw: Redis;

beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url);
});
afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});

const newStore = () => new RedisTokenStore({ url: server.url });

tokenStoreContract('redis', async () => {
  const store = newStore();
  return {
    store,
    raw: {
      deleteRecord: async (identityId, jti) => void (await raw.del(store.keys.token(identityId, jti))),
      recordExists: async (identityId, jti) => (await raw.exists(store.keys.token(identityId, jti))) === 1,
    },
  };
});

describe('RedisTokenStore on a real redis-server', () => {
  it('lets Redis drop the record itself at maxExpiresAt (key expiry = the hard cap)', async () => {
    const store = newStore();
    const rec = makeRecord();
    await store.put(rec);
    expect(await raw.pexpiretime(store.keys.token(rec.identityId, rec.jti))).toBe(rec.maxExpiresAt);
    expect(await raw.pexpiretime(store.keys.identityOf(rec.jti))).toBe(rec.maxExpiresAt);
    await store.close();
  });

  it('shares one use budget between two gateways racing on the same token', async () => {
    const [a, b] = [newStore(), newStore()];
    const rec = limited(5);
    await a.put(rec);
    const calls = Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).check(rec.jti, rec.identityId, T0, true));
    expect((await Promise.all(calls)).filter((r) => r.ok)).toHaveLength(5);
    await Promise.all([a.close(), b.close()]);
  });

  it('makes a revocation on one gateway visible on the other at once', async () => {
    const [a, b] = [newStore(), newStore()];
    const one = makeRecord();
    const all = makeRecord();
    await a.put(one);
    await a.put(all);
    await b.revoke(one.jti);
    await b.revokeIdentity(all.identityId, all.createdAt);
    expect(await a.check(one.jti, one.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    expect(await a.check(all.jti, all.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps keys apart under different keyPrefixes', async () => {
    const a = new RedisTokenStore({ url: server.url, keyPrefix: 'gw-a:' });
    const b = new RedisTokenStore({ url: server.url, keyPrefix: 'gw-b:' });
    const rec = makeRecord();
    await a.put(rec);
    expect(await raw.exists(`gw-a:token:{${rec.identityId}}:${rec.jti}`)).toBe(1);
    expect(await b.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
    await Promise.all([a.close(), b.close()]);
  });

  it('reloads its scripts after Redis forgets them (SCRIPT FLUSH, as after a restart)', async () => {
    const store = newStore();
    const rec = limited(2);
    await store.put(rec);
    await raw.script('FLUSH');
    expect((await store.check(rec.jti, rec.identityId, T0, true)).ok).toBe(true);
    await store.close();
  });
});
