/**
 * The limits part of the TokenStore contract (hitRate, put with maxOutstanding), run against every
 * store from contract.ts: a login limit or a token quota means the same whichever store is used.
 */
import { describe, expect, it } from 'vitest';
import type { TokenStore } from '../../src/store/types.js';
import { T0, limited, makeRecord } from './fixtures.js';

const bucket = (what: string) => `${what}:${Math.random().toString(36).slice(2)}`;

async function quotaRefusal(p: Promise<unknown>) {
  const err = await p.then(() => new Error('put succeeded over the quota'), (e: unknown) => e);
  expect(err).toMatchObject({ name: 'CertgateError', code: 'token_quota_exceeded', status: 429 });
  return err as { headers: Record<string, string> };
}

export function limitsContract(store: () => TokenStore): void {
  describe('login rate counters (hitRate)', () => {
    it('allows `limit` hits in a window, then refuses without counting, with the time until the window ends', async () => {
      const b = bucket('ip');
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push(await store().hitRate(b, 3, 60_000, Date.now()));
      expect(decisions.map((d) => [d.allowed, d.count])).toEqual([[true, 1], [true, 2], [true, 3], [false, 3], [false, 3]]);
      for (const d of decisions) {
        expect(d.retryAfterMs).toBeGreaterThan(0);
        expect(d.retryAfterMs).toBeLessThanOrEqual(60_000);
      }
      // Other buckets are counted apart.
      expect((await store().hitRate(bucket('ip'), 3, 60_000, Date.now())).allowed).toBe(true);
    });

    it('counts exactly `limit` of many racing hits', async () => {
      const b = bucket('identity');
      const all = await Promise.all(Array.from({ length: 60 }, () => store().hitRate(b, 7, 60_000, Date.now())));
      expect(all.filter((d) => d.allowed)).toHaveLength(7);
      expect(all.filter((d) => d.allowed).map((d) => d.count).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    });

    it('opens a new window once the old one has ended', async () => {
      const b = bucket('ip');
      const windowMs = 300;
      expect((await store().hitRate(b, 1, windowMs, Date.now())).allowed).toBe(true);
      const refused = await store().hitRate(b, 1, windowMs, Date.now());
      expect(refused.allowed).toBe(false);
      // The window is the time bound under test: wait it out (Redis times it by its own clock).
      await new Promise((r) => setTimeout(r, refused.retryAfterMs + 50));
      expect(await store().hitRate(b, 1, windowMs, Date.now())).toMatchObject({ allowed: true, count: 1 });
    });

    it('refuses buckets that would move a Redis hash tag, and limits below 1', async () => {
      await expect(store().hitRate('ip:{x}', 1, 1000, Date.now())).rejects.toThrow(/braces/);
      await expect(store().hitRate(bucket('ip'), 0, 1000, Date.now())).rejects.toThrow(/positive/);
    });
  });

  describe('logins per identity, counted by put (identityRate)', () => {
    const rate = { limit: 2, windowMs: 60_000 };

    it('admits `limit` puts per window, then refuses 429 rate_limited with Retry-After; writes nothing', async () => {
      const identityId = makeRecord().identityId;
      for (let i = 0; i < 2; i++) await store().put(makeRecord({ identityId }), { identityRate: rate });
      const extra = makeRecord({ identityId });
      const err = await store().put(extra, { identityRate: rate }).then(() => new Error('put succeeded over the rate'), (e: unknown) => e);
      expect(err).toMatchObject({ name: 'CertgateError', code: 'rate_limited', status: 429 });
      const retryAfter = Number((err as { headers: Record<string, string> }).headers['Retry-After']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await store().check(extra.jti, identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
      // Not counted as outstanding either: a quota of 3 still has room for exactly one more.
      await store().put(makeRecord({ identityId }), { maxOutstanding: 3 });
      await quotaRefusal(store().put(makeRecord({ identityId }), { maxOutstanding: 3 }));
      // Another identity has its own window; without identityRate nothing is counted.
      await store().put(makeRecord(), { identityRate: rate });
      await store().put(extra);
    });

    it('counts the login before the quota: a login the quota refuses has used its rate', async () => {
      const identityId = makeRecord().identityId;
      const both = { identityRate: rate, maxOutstanding: 1 };
      await store().put(makeRecord({ identityId }), both);
      await quotaRefusal(store().put(makeRecord({ identityId }), both));
      const err = await store().put(makeRecord({ identityId }), both).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'rate_limited', status: 429 });
    });

    it('admits exactly `limit` of many racing puts', async () => {
      const identityId = makeRecord().identityId;
      const results = await Promise.allSettled(Array.from({ length: 30 }, () => store().put(makeRecord({ identityId }), { identityRate: { limit: 7, windowMs: 60_000 } })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(7);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'rate_limited' });
    });
  });

  describe('outstanding tokens per identity (put maxOutstanding)', () => {
    it('refuses the put over the quota with 429 and Retry-After until the earliest expiry; writes nothing', async () => {
      const identityId = makeRecord().identityId;
      const held = [30_000, 10_000, 20_000].map((ttl) => makeRecord({ identityId, expiresAt: T0 + ttl }));
      for (const r of held) await store().put(r, { maxOutstanding: 3 });
      const extra = makeRecord({ identityId });
      const err = await quotaRefusal(store().put(extra, { maxOutstanding: 3 }));
      expect(err.headers['Retry-After']).toBe('10');
      expect(await store().check(extra.jti, identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
      // The jti was not claimed: the same record can be put once there is room.
      await store().revoke(held[0]!.jti, identityId);
      await store().put(extra, { maxOutstanding: 3 });
      // Another identity has its own quota; no quota means no refusal.
      await store().put(makeRecord(), { maxOutstanding: 1 });
      await store().put(makeRecord({ identityId }));
    });

    it('admits exactly the quota when many puts race', async () => {
      const identityId = makeRecord().identityId;
      const results = await Promise.allSettled(Array.from({ length: 30 }, () => store().put(makeRecord({ identityId }), { maxOutstanding: 5 })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'token_quota_exceeded' });
    });

    it('stops counting a token once it has expired (by the new record\'s createdAt), and follows renewals', async () => {
      const identityId = makeRecord().identityId;
      const shortLived = makeRecord({ identityId, expiresAt: T0 + 1000 });
      const renewed = makeRecord({ identityId, expiresAt: T0 + 1000 });
      await store().put(shortLived, { maxOutstanding: 2 });
      await store().put(renewed, { maxOutstanding: 2 });
      expect((await store().renew(renewed.jti, identityId, T0, T0 + 50_000)).ok).toBe(true);
      // At T0 + 1000 the first has expired, the renewed one has not: one slot free, not two.
      await store().put(makeRecord({ identityId, createdAt: T0 + 1000 }), { maxOutstanding: 2 });
      const err = await quotaRefusal(store().put(makeRecord({ identityId, createdAt: T0 + 1000 }), { maxOutstanding: 2 }));
      // Retry-After: until the renewed token's new expiry (49 s after this put).
      expect(err.headers['Retry-After']).toBe('49');
    });

    it('frees a slot when a token spends its last use, is revoked, or its identity is revoked', async () => {
      const identityId = makeRecord().identityId;
      const spent = limited(2, { identityId });
      const revoked = makeRecord({ identityId });
      await store().put(spent, { maxOutstanding: 2 });
      await store().put(revoked, { maxOutstanding: 2 });
      await quotaRefusal(store().put(makeRecord({ identityId }), { maxOutstanding: 2 }));
      await store().check(spent.jti, identityId, T0, true);
      await quotaRefusal(store().put(makeRecord({ identityId }), { maxOutstanding: 2 })); // one use left: still outstanding
      await store().check(spent.jti, identityId, T0, true);
      const third = makeRecord({ identityId });
      await store().put(third, { maxOutstanding: 2 });
      await store().revoke(revoked.jti, identityId);
      await store().put(makeRecord({ identityId }), { maxOutstanding: 2 });
      await quotaRefusal(store().put(makeRecord({ identityId }), { maxOutstanding: 2 }));
      // Revoke-all covers every token put so far (both stores: T0 + 1 is after every createdAt here).
      await store().revokeIdentity(identityId, T0 + 1);
      for (let i = 0; i < 2; i++) await store().put(makeRecord({ identityId, createdAt: T0 + 2 }), { maxOutstanding: 2 });
      await quotaRefusal(store().put(makeRecord({ identityId, createdAt: T0 + 2 }), { maxOutstanding: 2 }));
    });
  });
}
