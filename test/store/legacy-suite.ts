/**
 * Rolling upgrade: tokens written by the previous key layout (see legacy-layout.ts) keep working on
 * the sharded layout until they expire — lookups, uses, renew, revoke, revoke-all and the quota.
 */
import type { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisTokenStore } from '../../src/store/redis.js';
import { T0, limited, makeRecord } from './fixtures.js';
import { legacyPut, legacyRevokeIdentity } from './legacy-layout.js';

export function legacyLayoutSuite(label: string, ctx: () => { store: RedisTokenStore; raw: Redis | Cluster }): void {
  describe(`tokens of the previous key layout: ${label}`, () => {
    const reasonOf = async (r: { jti: string; identityId: string }) => {
      const o = await ctx().store.check(r.jti, r.identityId, T0, false);
      return o.ok ? 'ok' : o.reason;
    };

    it('are found, spend their uses exactly, renew, and free their quota slot at the last use', async () => {
      const { store, raw } = ctx();
      const old = limited(2);
      await legacyPut(raw, old);
      expect(await store.check(old.jti, old.identityId, T0, false)).toEqual({ ok: true, record: old });
      // Counted in the identity's quota (same home-slot set as before).
      await store.put(makeRecord({ identityId: old.identityId }), { maxOutstanding: 2 });
      await expect(store.put(makeRecord({ identityId: old.identityId }), { maxOutstanding: 2 })).rejects.toMatchObject({ code: 'token_quota_exceeded' });
      const renewed = await store.renew(old.jti, old.identityId, T0, old.expiresAt + 5000);
      expect(renewed).toMatchObject({ ok: true, record: { expiresAt: old.expiresAt + 5000 } });
      const racing = await Promise.all(Array.from({ length: 10 }, () => store.check(old.jti, old.identityId, T0, true)));
      expect(racing.filter((r) => r.ok)).toHaveLength(2);
      expect(await reasonOf(old)).toBe('uses_exhausted');
      await store.put(makeRecord({ identityId: old.identityId }), { maxOutstanding: 2 });
    });

    it('are revoked by revoke(jti, identityId), which frees their quota slot', async () => {
      const { store, raw } = ctx();
      const old = makeRecord();
      await legacyPut(raw, old);
      await expect(store.put(makeRecord({ identityId: old.identityId }), { maxOutstanding: 1 })).rejects.toMatchObject({ code: 'token_quota_exceeded' });
      expect(await store.revoke(old.jti, 'other-identity')).toBe(false);
      expect(await store.revoke(old.jti, old.identityId)).toBe(true);
      expect(await reasonOf(old)).toBe('revoked');
      expect(await store.renew(old.jti, old.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'revoked' });
      await store.put(makeRecord({ identityId: old.identityId }), { maxOutstanding: 1 });
    });

    it('are covered by revoke-all, with the new tokens put before it; tokens put after it live', async () => {
      const { store, raw } = ctx();
      const old = makeRecord();
      const current = makeRecord({ identityId: old.identityId });
      await legacyPut(raw, old);
      await store.put(current);
      await store.revokeIdentity(old.identityId, T0);
      expect([await reasonOf(old), await reasonOf(current)]).toEqual(['revoked', 'revoked']);
      const fresh = makeRecord({ identityId: old.identityId });
      await store.put(fresh, { maxOutstanding: 1 });
      expect(await reasonOf(fresh)).toBe('ok');
    });

    it('a revoke-all by a gateway not yet upgraded reaches only the old tokens (docs/operations.md: repeat it)', async () => {
      const { store, raw } = ctx();
      const old = makeRecord();
      const current = makeRecord({ identityId: old.identityId });
      await legacyPut(raw, old);
      await store.put(current);
      await legacyRevokeIdentity(raw, old.identityId);
      expect([await reasonOf(old), await reasonOf(current)]).toEqual(['revoked', 'ok']);
      await store.revokeIdentity(old.identityId, T0);
      expect(await reasonOf(current)).toBe('revoked');
    });
  });
}
