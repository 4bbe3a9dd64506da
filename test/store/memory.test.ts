import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryTokenStore } from '../../src/store/memory.js';
import { ManualClock } from '../../src/util/clock.js';
import { tokenStoreContract } from './contract.js';
import { T0, makeCert, makeRecord } from './fixtures.js';

/** Exposes the map so the contract can delete a record behind the store's back. */
class InspectableMemoryStore extends MemoryTokenStore {
  has = (jti: string) => this.records.has(jti);
  drop = (jti: string) => this.records.delete(jti);
  /** The tokens a certificate's entry lists (what a certificate revoke would kill). */
  certTokens = (sha256: string) => [...((this as unknown as { certs: Map<string, { tokens: Map<string, string> }> }).certs.get(sha256)?.tokens.keys() ?? [])];
}

tokenStoreContract('memory', async () => {
  const store = new InspectableMemoryStore();
  return {
    store,
    raw: {
      deleteRecord: async (_identityId, jti) => void store.drop(jti),
      recordExists: async (_identityId, jti) => store.has(jti),
    },
  };
}, { revokeAllClock: 'arguments' });

describe('MemoryTokenStore housekeeping', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('drops a record lazily once a check sees it past maxExpiresAt', async () => {
    const store = new MemoryTokenStore();
    const rec = makeRecord();
    await store.put(rec);
    // Past expiresAt but before the cap, renew could still revive it: kept.
    expect(await store.check(rec.jti, rec.identityId, rec.expiresAt, false)).toEqual({ ok: false, reason: 'expired' });
    expect(store.size).toBe(1);
    expect(await store.check(rec.jti, rec.identityId, rec.maxExpiresAt, false)).toEqual({ ok: false, reason: 'expired' });
    expect(store.size).toBe(0);
    await store.close();
  });

  it('sweeps records past maxExpiresAt on its timer, and only those', async () => {
    vi.useFakeTimers();
    const clock = new ManualClock(T0);
    const store = new MemoryTokenStore({ clock, sweepIntervalMs: 1000 });
    const short = makeRecord({ maxExpiresAt: T0 + 10_000 });
    const long = makeRecord({ maxExpiresAt: T0 + 20_000 });
    await store.put(short);
    await store.put(long);
    clock.set(T0 + 10_000);
    vi.advanceTimersByTime(1000);
    expect(store.size).toBe(1);
    expect((await store.check(long.jti, long.identityId, T0, false)).ok).toBe(true);
    await store.close();
  });

  it('lists only existing tokens under a certificate that keeps logging in', async () => {
    vi.useFakeTimers();
    const clock = new ManualClock(T0);
    const store = new InspectableMemoryStore({ clock, sweepIntervalMs: 1000 });
    const cert = makeCert();
    const logins = [0, 1, 2, 3].map((i) => makeRecord({ certSha256: cert.sha256, createdAt: T0 + i * 10_000, expiresAt: T0 + i * 10_000 + 5_000, maxExpiresAt: T0 + i * 10_000 + 15_000 }));
    for (const [i, rec] of logins.entries()) {
      clock.set(T0 + i * 10_000);
      vi.advanceTimersByTime(1000);
      await store.putAndIndex(rec, cert, {}, clock.now());
    }
    // At T0 + 30 s the first two are past their caps; the entry lives on for the last two.
    expect(store.certTokens(cert.sha256).sort()).toEqual([logins[2]!.jti, logins[3]!.jti].sort());
    await store.close();
  });

  it('runs its sweep on an unref-ed timer and stops it on close', async () => {
    const spy = vi.spyOn(globalThis, 'setInterval');
    const store = new MemoryTokenStore();
    const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
    spy.mockRestore();
    // An unref-ed timer never keeps a CLI command or test worker alive.
    expect(timer.hasRef()).toBe(false);
    const clear = vi.spyOn(globalThis, 'clearInterval');
    await store.close();
    expect(clear).toHaveBeenCalledWith(timer);
    clear.mockRestore();
  });
});
