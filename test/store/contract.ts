/**
 * The TokenStore contract (src/store/types.ts), run unchanged against every implementation:
 * whatever store a deployment picks, a token's limits mean the same thing. One documented
 * difference: which clock orders revoke-all (`revokeAllClock`, see TokenStore.revokeIdentity).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreOutcome, TokenStore } from '../../src/store/types.js';
import { T0, limited, makeCert, makeRecord, type RawAccess, type StoreUnderTest } from './fixtures.js';
import { limitsContract } from './limits-contract.js';

const okRecord = (o: StoreOutcome) => {
  if (!o.ok) throw new Error(`expected ok, got ${o.reason}`);
  return o.record;
};

export interface ContractOptions {
  /**
   * 'arguments': the watermark is revokeIdentity's `at`, compared with createdAt (memory).
   * 'store': the store orders put and revokeIdentity by its own clock and ignores both (Redis
   * TIME); assertions then follow the real order of the calls.
   */
  revokeAllClock: 'arguments' | 'store';
}

const HOUR = 3_600_000;

export function tokenStoreContract(label: string, create: () => Promise<StoreUnderTest>, opts: ContractOptions): void {
  describe(`TokenStore contract: ${label}`, () => {
    let store: TokenStore;
    let raw: RawAccess;
    beforeEach(async () => {
      ({ store, raw } = await create());
    });
    afterEach(async () => {
      await store.close();
    });

    it('returns the stored record unchanged on a lookup, and a lookup consumes nothing', async () => {
      const rec = limited(3);
      await store.put(rec);
      expect(await store.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: true, record: rec });
      expect(okRecord(await store.check(rec.jti, rec.identityId, T0, false)).usesRemaining).toBe(3);
    });

    it('answers not_found for an unknown jti and for a jti presented under another identity', async () => {
      const rec = makeRecord();
      await store.put(rec);
      expect(await store.check('no-such-jti', rec.identityId, T0, true)).toEqual({ ok: false, reason: 'not_found' });
      expect(await store.check(rec.jti, 'other-identity', T0, true)).toEqual({ ok: false, reason: 'not_found' });
    });

    it('refuses a second put of the same jti without resetting its uses', async () => {
      const rec = limited(2);
      await store.put(rec);
      await store.check(rec.jti, rec.identityId, T0, true);
      await expect(store.put(rec)).rejects.toThrow(/duplicate jti/);
      expect(okRecord(await store.check(rec.jti, rec.identityId, T0, false)).usesRemaining).toBe(1);
    });

    it('hands out snapshots: mutating a returned record does not change the store', async () => {
      const rec = makeRecord();
      await store.put(rec);
      const got = okRecord(await store.check(rec.jti, rec.identityId, T0, false));
      got.scopes.push('admin');
      got.usesRemaining = 99;
      expect(okRecord(await store.check(rec.jti, rec.identityId, T0, false))).toEqual(rec);
    });

    it('counts uses down to 0, keeps the record, then answers uses_exhausted', async () => {
      const rec = limited(3);
      await store.put(rec);
      const left = [];
      for (let i = 0; i < 3; i++) left.push(okRecord(await store.check(rec.jti, rec.identityId, T0, true)).usesRemaining);
      expect(left).toEqual([2, 1, 0]);
      expect(await store.check(rec.jti, rec.identityId, T0, true)).toEqual({ ok: false, reason: 'uses_exhausted' });
      expect(await store.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: false, reason: 'uses_exhausted' });
    });

    it('allows exactly N uses when 20·N consuming checks race', async () => {
      const n = 7;
      const rec = limited(n);
      await store.put(rec);
      const results = await Promise.all(Array.from({ length: 20 * n }, () => store.check(rec.jti, rec.identityId, T0, true)));
      const granted = results.filter((r) => r.ok);
      expect(granted).toHaveLength(n);
      // Each granted call saw a distinct "uses left": no two calls took the same use.
      expect(granted.map((r) => okRecord(r).usesRemaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'uses_exhausted')).toBe(true);
    });

    it('checkState takes the same uses and answers the same refusals as check, with only the changing part', async () => {
      const rec = limited(2);
      await store.put(rec);
      expect(await store.checkState(rec.jti, rec.identityId, T0, false)).toEqual({ ok: true, state: { expiresAt: rec.expiresAt, usesRemaining: 2 } });
      expect(await store.checkState(rec.jti, rec.identityId, T0, true)).toEqual({ ok: true, state: { expiresAt: rec.expiresAt, usesRemaining: 1 } });
      expect(okRecord(await store.check(rec.jti, rec.identityId, T0, true)).usesRemaining).toBe(0);
      expect(await store.checkState(rec.jti, rec.identityId, T0, true)).toEqual({ ok: false, reason: 'uses_exhausted' });
      expect(await store.checkState(rec.jti, 'another-identity', T0, false)).toEqual({ ok: false, reason: 'not_found' });
      const renewed = makeRecord();
      await store.put(renewed);
      await store.renew(renewed.jti, renewed.identityId, T0, renewed.expiresAt + 1000);
      expect(await store.checkState(renewed.jti, renewed.identityId, T0, false)).toEqual({ ok: true, state: { expiresAt: Math.min(renewed.expiresAt + 1000, renewed.maxExpiresAt), usesRemaining: renewed.usesRemaining } });
      expect(await store.checkState(renewed.jti, renewed.identityId, renewed.maxExpiresAt - 1, false)).toEqual({ ok: false, reason: 'expired' });
      await store.revoke(renewed.jti, renewed.identityId);
      expect(await store.checkState(renewed.jti, renewed.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    });

    it('allows exactly N uses when checkState and check race', async () => {
      const n = 6;
      const rec = limited(n);
      await store.put(rec);
      const results = await Promise.all(Array.from({ length: 10 * n }, (_, i) => (i % 2 ? store.checkState(rec.jti, rec.identityId, T0, true) : store.check(rec.jti, rec.identityId, T0, true))));
      expect(results.filter((r) => r.ok)).toHaveLength(n);
    });

    it('never runs out of uses when usesLimit is 0', async () => {
      const rec = makeRecord({ usesLimit: 0, usesRemaining: 0 });
      await store.put(rec);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.check(rec.jti, rec.identityId, T0, true)));
      expect(results.every((r) => r.ok && r.record.usesRemaining === 0)).toBe(true);
    });

    it('expires by the injected now: valid before expiresAt, expired at it', async () => {
      const rec = limited(5);
      await store.put(rec);
      expect((await store.check(rec.jti, rec.identityId, rec.expiresAt - 1, false)).ok).toBe(true);
      expect(await store.check(rec.jti, rec.identityId, rec.expiresAt, true)).toEqual({ ok: false, reason: 'expired' });
      // The refused call took nothing.
      expect(okRecord(await store.check(rec.jti, rec.identityId, T0, false)).usesRemaining).toBe(5);
    });

    it('revokes one token; revoking an unknown jti answers false and creates nothing', async () => {
      const rec = makeRecord();
      await store.put(rec);
      expect(await store.revoke(rec.jti, rec.identityId)).toBe(true);
      expect(await store.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
      expect(await store.renew(rec.jti, rec.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'revoked' });
      expect(await store.revoke('no-such-jti', rec.identityId)).toBe(false);
      // revoke is given the verified token's identity: under another one the token is not found.
      const other = makeRecord();
      await store.put(other);
      expect(await store.revoke(other.jti, 'other-identity')).toBe(false);
      expect(await reasonOf(other)).toBe('ok');
      expect(await store.check('no-such-jti', rec.identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
    });

    const reasonOf = async (r: { jti: string; identityId: string }) => {
      const o = await store.check(r.jti, r.identityId, T0, false);
      return o.ok ? 'ok' : o.reason;
    };

    if (opts.revokeAllClock === 'arguments') {
      it('revokeIdentity revokes tokens created at or before the watermark, not after, not others', async () => {
        const identityId = makeRecord().identityId;
        const before = makeRecord({ identityId, createdAt: T0 - 1 });
        const at = makeRecord({ identityId, createdAt: T0 });
        const after = makeRecord({ identityId, createdAt: T0 + 1 });
        const otherIdentity = makeRecord({ createdAt: T0 - 1 });
        for (const r of [before, at, after, otherIdentity]) await store.put(r);
        await store.revokeIdentity(identityId, T0);
        expect([await reasonOf(before), await reasonOf(at), await reasonOf(after), await reasonOf(otherIdentity)]).toEqual(['revoked', 'revoked', 'ok', 'ok']);
        // A late call with an older watermark must not un-revoke anything.
        await store.revokeIdentity(identityId, T0 - 10);
        expect(await reasonOf(at)).toBe('revoked');
        // Tokens issued after the revocation are valid.
        const fresh = makeRecord({ identityId, createdAt: T0 + 5 });
        await store.put(fresh);
        expect(await reasonOf(fresh)).toBe('ok');
      });
    } else {
      it('revokeIdentity revokes every token put before it, whatever createdAt and `at` say; not others', async () => {
        const identityId = makeRecord().identityId;
        // Issued by gateways whose clocks run an hour ahead of / behind the revoking host.
        const ahead = makeRecord({ identityId, createdAt: T0 + HOUR });
        const behind = makeRecord({ identityId, createdAt: T0 - HOUR });
        const otherIdentity = makeRecord({ createdAt: T0 - HOUR });
        for (const r of [ahead, behind, otherIdentity]) await store.put(r);
        // The revoking host's clock is far behind everything: `at` must not decide.
        await store.revokeIdentity(identityId, T0 - 10 * HOUR);
        expect([await reasonOf(ahead), await reasonOf(behind), await reasonOf(otherIdentity)]).toEqual(['revoked', 'revoked', 'ok']);
        // Another call, whatever its `at`, revokes again and un-revokes nothing.
        await store.revokeIdentity(identityId, 0);
        expect(await reasonOf(ahead)).toBe('revoked');
      });

      it('tokens put after revokeIdentity are valid, even when createdAt lies before its `at`', async () => {
        const identityId = makeRecord().identityId;
        await store.revokeIdentity(identityId, T0 + HOUR); // a revoking host an hour ahead
        const fresh = makeRecord({ identityId, createdAt: T0 - HOUR }); // an issuer an hour behind
        await store.put(fresh);
        expect(await reasonOf(fresh)).toBe('ok');
        expect((await store.check(fresh.jti, fresh.identityId, T0, true)).ok).toBe(true);
        expect((await store.renew(fresh.jti, fresh.identityId, T0, T0 + 1000)).ok).toBe(true);
      });
    }

    it('revokeIdentity covers renew as well as check', async () => {
      const rec = makeRecord();
      await store.put(rec);
      await store.revokeIdentity(rec.identityId, rec.createdAt);
      expect(await store.renew(rec.jti, rec.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'revoked' });
      expect(await store.check(rec.jti, rec.identityId, T0, true)).toEqual({ ok: false, reason: 'revoked' });
    });

    it('renew moves expiresAt, caps it at maxExpiresAt and consumes no use', async () => {
      const rec = limited(2);
      await store.put(rec);
      const renewed = okRecord(await store.renew(rec.jti, rec.identityId, T0, rec.expiresAt + 5000));
      expect(renewed).toMatchObject({ expiresAt: rec.expiresAt + 5000, usesRemaining: 2 });
      expect((await store.check(rec.jti, rec.identityId, rec.expiresAt + 4999, false)).ok).toBe(true);
      const capped = okRecord(await store.renew(rec.jti, rec.identityId, T0, rec.maxExpiresAt + 1_000_000));
      expect(capped.expiresAt).toBe(rec.maxExpiresAt);
    });

    it('renew refuses expired, missing and used-up tokens', async () => {
      const rec = makeRecord();
      const usedUp = limited(1);
      await store.put(rec);
      await store.put(usedUp);
      await store.check(usedUp.jti, usedUp.identityId, T0, true);
      expect(await store.renew(rec.jti, rec.identityId, rec.expiresAt, rec.expiresAt + 1000)).toEqual({ ok: false, reason: 'expired' });
      expect(await store.renew('no-such-jti', rec.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'not_found' });
      expect(await store.renew(usedUp.jti, usedUp.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'uses_exhausted' });
    });

    it('never re-creates a record deleted behind its back', async () => {
      const rec = limited(3);
      await store.put(rec);
      await raw.deleteRecord(rec.identityId, rec.jti);
      expect(await store.check(rec.jti, rec.identityId, T0, true)).toEqual({ ok: false, reason: 'not_found' });
      expect(await store.renew(rec.jti, rec.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'not_found' });
      expect(await store.revoke(rec.jti, rec.identityId)).toBe(false);
      expect(await raw.recordExists(rec.identityId, rec.jti)).toBe(false);
    });

    it('keeps API identities with a version that moves on every change, and only then', async () => {
      const v0 = await store.identitiesVersion();
      expect(await store.putIdentity('contract-a', '{"id":"contract-a"}')).toBe(true);
      expect(await store.putIdentity('contract-a', '{"id":"contract-a","name":"A"}')).toBe(false);
      expect(await store.putIdentity('contract-b', '{"id":"contract-b"}')).toBe(true);
      expect(await store.identitiesVersion()).toBe(v0 + 3);
      expect(await store.getIdentity('contract-a')).toBe('{"id":"contract-a","name":"A"}');
      expect(await store.getIdentity('contract-none')).toBeNull();
      const listed = await store.listIdentities();
      expect(listed.version).toBe(v0 + 3);
      expect(listed.identities.get('contract-b')).toBe('{"id":"contract-b"}');
      expect(await store.deleteIdentity('contract-b')).toBe(true);
      expect(await store.deleteIdentity('contract-b')).toBe(false);
      expect(await store.identitiesVersion()).toBe(v0 + 4);
      expect((await store.listIdentities()).identities.has('contract-b')).toBe(false);
      await store.deleteIdentity('contract-a');
    });

    limitsContract(() => store);

    describe('certificates', () => {
      const DAY = 24 * HOUR;
      const opts = { now: T0, defaultUntil: T0 + DAY };
      /** A token of `cert`, put then indexed, as a login does. */
      const issueFor = async (cert: ReturnType<typeof makeCert>, over: Parameters<typeof makeRecord>[0] = {}) => {
        const rec = makeRecord({ certSha256: cert.sha256, certIssuer: cert.issuer, certSerial: cert.serial, ...over });
        await store.put(rec);
        expect(await store.indexToken(cert, rec, T0)).toEqual({ certificateRevoked: false });
        return rec;
      };

      it('indexToken answers whether a marker names the certificate, by SHA-256 or by issuer and serial', async () => {
        const [bySha, bySerial, clean] = [makeCert(), makeCert(), makeCert()];
        await store.revokeCertificate({ sha256: bySha.sha256 }, opts);
        await store.revokeCertificate({ issuer: bySerial.issuer, serial: bySerial.serial }, opts);
        for (const [cert, revoked] of [[bySha, true], [bySerial, true], [clean, false]] as const) {
          const rec = makeRecord({ certSha256: cert.sha256, certIssuer: cert.issuer, certSerial: cert.serial });
          await store.put(rec);
          expect(await store.indexToken(cert, rec, T0)).toEqual({ certificateRevoked: revoked });
        }
      });

      it('putAndIndex writes the record and indexes it, answering whether a marker names the certificate', async () => {
        const [clean, marked] = [makeCert(), makeCert()];
        await store.revokeCertificate({ issuer: marked.issuer, serial: marked.serial }, opts);
        for (const [cert, revoked] of [[clean, false], [marked, true]] as const) {
          const rec = makeRecord({ certSha256: cert.sha256, certIssuer: cert.issuer, certSerial: cert.serial });
          expect(await store.putAndIndex(rec, cert, {}, T0)).toEqual({ certificateRevoked: revoked });
          expect(okRecord(await store.check(rec.jti, rec.identityId, T0, false))).toEqual(rec);
          expect(await store.certificate(cert.sha256)).toEqual(cert);
          // The index holds the token: revoking the certificate reaches it.
          expect((await store.revokeCertificate({ sha256: cert.sha256 }, opts)).tokens).toBe(1);
        }
      });

      it('putAndIndex indexes nothing when put refuses (quota, identity rate)', async () => {
        const first = makeRecord();
        await store.put(first);
        const overQuota = makeCert();
        const quota = makeRecord({ identityId: first.identityId, certSha256: overQuota.sha256 });
        await expect(store.putAndIndex(quota, overQuota, { maxOutstanding: 1 }, T0)).rejects.toMatchObject({ code: 'token_quota_exceeded', status: 429 });
        const overRate = makeCert();
        const rated = makeRecord({ certSha256: overRate.sha256 });
        const rate = { limit: 1, windowMs: 60_000 };
        await store.put(makeRecord({ identityId: rated.identityId }), { identityRate: rate });
        await expect(store.putAndIndex(rated, overRate, { identityRate: rate }, T0)).rejects.toMatchObject({ code: 'rate_limited', status: 429 });
        for (const [cert, rec] of [[overQuota, quota], [overRate, rated]] as const) {
          expect(await store.certificate(cert.sha256)).toBeUndefined();
          expect(await store.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
        }
      });

      it('records the issuer and serial in the token record', async () => {
        const rec = await issueFor(makeCert());
        expect(okRecord(await store.check(rec.jti, rec.identityId, T0, false))).toEqual(rec);
      });

      it('keeps what indexToken stored (the path renew re-checks) under the certificate', async () => {
        const cert = makeCert();
        expect(await store.certificate(cert.sha256)).toBeUndefined();
        await issueFor(cert);
        expect(await store.certificate(cert.sha256)).toEqual(cert);
      });

      it('revokes every token of a certificate by SHA-256, whatever its identity, and no other token', async () => {
        const [cert, other] = [makeCert(), makeCert()];
        const a = await issueFor(cert);
        const b = await issueFor(cert); // another identity (makeRecord picks a fresh one)
        const c = await issueFor(other);
        const r = await store.revokeCertificate({ sha256: cert.sha256 }, opts);
        expect(r).toEqual({ tokens: 2, certificates: [cert], marked: true });
        expect([await reasonOf(a), await reasonOf(b), await reasonOf(c)]).toEqual(['revoked', 'revoked', 'ok']);
        expect(await store.renew(a.jti, a.identityId, T0, T0 + 1000)).toEqual({ ok: false, reason: 'revoked' });
        // Logins are refused by either form; the other certificate is untouched.
        expect(await store.isCertificateRevoked({ sha256: cert.sha256 }, T0)).toBe(true);
        expect(await store.isCertificateRevoked({ sha256: 'ee'.repeat(32), issuer: cert.issuer, serial: cert.serial }, T0)).toBe(true);
        expect(await store.isCertificateRevoked(other, T0)).toBe(false);
        // Idempotent: a second revoke counts nothing new.
        expect((await store.revokeCertificate({ sha256: cert.sha256 }, opts)).tokens).toBe(0);
      });

      it('revokes by issuer and serial, and marks the SHA-256 it finds in the index', async () => {
        const cert = makeCert();
        const sameSerialOtherIssuer = makeCert({ serial: cert.serial, issuer: 'CN=Another CA, O=certgate tests' });
        const t = await issueFor(cert);
        const u = await issueFor(sameSerialOtherIssuer);
        const r = await store.revokeCertificate({ issuer: cert.issuer, serial: cert.serial }, opts);
        expect(r).toEqual({ tokens: 1, certificates: [cert], marked: true });
        expect([await reasonOf(t), await reasonOf(u)]).toEqual(['revoked', 'ok']);
        expect(await store.isCertificateRevoked({ sha256: cert.sha256 }, T0)).toBe(true);
        expect(await store.isCertificateRevoked(sameSerialOtherIssuer, T0)).toBe(false);
      });

      it('marks a certificate it has never seen, revoking nothing', async () => {
        const unseen = makeCert();
        expect(await store.revokeCertificate({ sha256: unseen.sha256 }, opts)).toEqual({ tokens: 0, certificates: [], marked: true });
        expect(await store.isCertificateRevoked({ sha256: unseen.sha256 }, T0)).toBe(true);
        const bySerial = makeCert();
        await store.revokeCertificate({ issuer: bySerial.issuer, serial: bySerial.serial }, opts);
        expect(await store.isCertificateRevoked(bySerial, T0)).toBe(true);
        expect(await store.isCertificateRevoked({ sha256: bySerial.sha256 }, T0)).toBe(false);
      });

      it('with onlyKnown (a CRL) writes no marker for a certificate it has never seen', async () => {
        const [unseen, seen] = [makeCert(), makeCert()];
        const t = await issueFor(seen);
        expect(await store.revokeCertificate({ issuer: unseen.issuer, serial: unseen.serial }, { ...opts, onlyKnown: true })).toEqual({ tokens: 0, certificates: [], marked: false });
        expect(await store.isCertificateRevoked(unseen, T0)).toBe(false);
        expect(await store.revokeCertificate({ issuer: seen.issuer, serial: seen.serial }, { ...opts, onlyKnown: true })).toEqual({ tokens: 1, certificates: [seen], marked: true });
        expect(await reasonOf(t)).toBe('revoked');
        expect(await store.isCertificateRevoked({ sha256: seen.sha256 }, T0)).toBe(true);
      });

      it('no longer counts the revoked tokens against the identity\'s outstanding-token quota', async () => {
        const cert = makeCert();
        const t = await issueFor(cert);
        const next = makeRecord({ identityId: t.identityId });
        await expect(store.put(next, { maxOutstanding: 1 })).rejects.toMatchObject({ code: 'token_quota_exceeded' });
        await store.revokeCertificate({ sha256: cert.sha256 }, opts);
        await expect(store.put(next, { maxOutstanding: 1 })).resolves.toBeUndefined();
      });

      it('writes no marker for a certificate already past its notAfter, yet revokes its tokens', async () => {
        const expired = makeCert({ notAfter: T0 - 1000 });
        const t = await issueFor(expired);
        expect(await store.revokeCertificate({ sha256: expired.sha256 }, { ...opts, defaultUntil: T0 - 1 })).toMatchObject({ tokens: 1, marked: false });
        expect(await reasonOf(t)).toBe('revoked');
        expect(await store.isCertificateRevoked(expired, T0)).toBe(false);
      });
    });

    it('answers ping while open and store_unavailable for everything after close', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      await store.close();
      const rec = makeRecord();
      const cert = makeCert();
      for (const op of [
        () => store.ping(),
        () => store.put(rec),
        () => store.check(rec.jti, rec.identityId, T0, false),
        () => store.revoke(rec.jti, rec.identityId),
        () => store.indexToken(cert, rec, T0),
        () => store.checkState(rec.jti, rec.identityId, T0, false),
        () => store.putAndIndex(rec, cert, {}, T0),
        () => store.revokeCertificate({ sha256: cert.sha256 }, { now: T0, defaultUntil: T0 + HOUR }),
        () => store.isCertificateRevoked(cert, T0),
      ]) {
        await expect(op()).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
      }
    });
  });
}
