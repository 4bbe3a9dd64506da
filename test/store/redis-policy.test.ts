/**
 * A Redis whose maxmemory-policy may evict certgate's keys is refused loudly: every operation
 * answers 503 store_misconfigured (readyz included) and the verdict is reported; noeviction is
 * served. A policy changed at runtime is noticed at the next maintenance pass, both ways.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import type { PolicyVerdict } from '../../src/store/redis-policy.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeRecord, T0 } from './fixtures.js';

const started: Array<{ close(): Promise<void> } | RedisServer> = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await ('close' in s ? s.close() : s.stop());
});

async function storeOn(args: string[], maintenanceIntervalMs?: number) {
  const server = await startRedis({ args });
  started.push(server);
  const verdicts: PolicyVerdict[] = [];
  const store = new RedisTokenStore({ url: server.url, maintenanceIntervalMs, onPolicy: (v) => verdicts.push(v) });
  started.push(store);
  return { server, store, verdicts };
}

const misconfigured = { code: 'store_misconfigured', status: 503 };

describe('RedisTokenStore and maxmemory-policy', () => {
  for (const policy of ['allkeys-lru', 'allkeys-random', 'volatile-lru', 'volatile-ttl']) {
    it(`refuses every operation with 503 store_misconfigured on ${policy}, naming the policy`, async () => {
      const { store, verdicts } = await storeOn(['--maxmemory-policy', policy]);
      const rec = makeRecord();
      await expect(store.ping()).rejects.toMatchObject({ ...misconfigured, message: expect.stringContaining(`maxmemory-policy ${policy}`) });
      await expect(store.put(rec)).rejects.toMatchObject(misconfigured);
      await expect(store.check(rec.jti, rec.identityId, T0, true)).rejects.toMatchObject(misconfigured);
      await expect(store.hitRate('ip:10.0.0.1', 5, 60_000, T0)).rejects.toMatchObject(misconfigured);
      await expect(store.revoke(rec.jti, rec.identityId)).rejects.toMatchObject(misconfigured);
      await expect(store.revokeIdentity(rec.identityId, T0)).rejects.toMatchObject(misconfigured);
      expect(verdicts).toEqual([expect.objectContaining({ status: 'misconfigured', policy })]);
    });
  }

  it('serves with noeviction', async () => {
    const { store, verdicts } = await storeOn(['--maxmemory-policy', 'noeviction']);
    await store.ping();
    const rec = makeRecord();
    await store.put(rec);
    expect((await store.check(rec.jti, rec.identityId, T0, false)).ok).toBe(true);
    expect(verdicts).toEqual([expect.objectContaining({ status: 'ok', policy: 'noeviction' })]);
  });

  it('notices a policy changed at runtime, both ways', async () => {
    const { server, store, verdicts } = await storeOn(['--maxmemory-policy', 'noeviction'], 100);
    await store.ping();
    const admin = new Redis(server.url);
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await vi.waitFor(() => expect(store.ping()).rejects.toMatchObject(misconfigured), { timeout: 5000, interval: 50 });
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await vi.waitFor(() => store.ping(), { timeout: 5000, interval: 50 });
    } finally {
      admin.disconnect();
    }
    expect(verdicts.map((v) => v.status)).toEqual(['ok', 'misconfigured', 'ok']);
  });

  it('re-reads the policy when it reconnects to a Redis that came back with another one', async () => {
    const { server, store } = await storeOn(['--maxmemory-policy', 'noeviction'], 3_600_000);
    await store.ping();
    await server.stop();
    const again = await startRedis({ port: server.port, args: ['--maxmemory-policy', 'allkeys-lru'] });
    started.push(again);
    // The periodic pass is an hour away: only the reconnect can have noticed.
    await vi.waitFor(() => expect(store.ping()).rejects.toMatchObject(misconfigured), { timeout: 10_000, interval: 50 });
  });

  it('serves, and reports the policy as unverifiable, when CONFIG is disabled', async () => {
    const { store, verdicts } = await storeOn(['--rename-command', 'CONFIG', '']);
    await store.ping();
    const rec = makeRecord();
    await store.put(rec);
    expect(verdicts).toEqual([expect.objectContaining({ status: 'unverifiable', message: expect.stringContaining('CONFIG is disabled or not permitted') })]);
  });
});

describe('RedisTokenStore on a full Redis with noeviction', () => {
  it('refuses what writes with store_unavailable, changes nothing, and still answers lookups', async () => {
    const { server, store } = await storeOn(['--maxmemory-policy', 'noeviction']);
    const rec = makeRecord({ usesLimit: 3, usesRemaining: 3 });
    await store.put(rec);
    const admin = new Redis(server.url);
    try {
      await admin.config('SET', 'maxmemory', '1'); // every byte in use is now over the limit
      const unavailable = { code: 'store_unavailable', status: 503 };
      await expect(store.put(makeRecord())).rejects.toMatchObject(unavailable);
      await expect(store.check(rec.jti, rec.identityId, T0, true)).rejects.toMatchObject(unavailable);
      await expect(store.hitRate('ip:10.0.0.2', 5, 60_000, T0)).rejects.toMatchObject(unavailable);
      await expect(store.revokeIdentity(rec.identityId, T0)).rejects.toMatchObject(unavailable);
      expect(await store.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: true, record: rec });
      await admin.config('SET', 'maxmemory', '0');
      expect(await store.check(rec.jti, rec.identityId, T0, true)).toMatchObject({ ok: true, record: { usesRemaining: 2 } });
    } finally {
      admin.disconnect();
    }
  });
});
