import { storeUnavailable } from '../errors.js';
import { systemClock, type Clock } from '../util/clock.js';
import { addressRateLimited, assertRate, identityRateLimited, quotaExceeded } from './limits.js';
import { OutstandingTokens, RateWindows } from './memory-limits.js';
import { issuerSerialKey } from '../pki/parsing/certificate-id.js';
import type {
  CertificateInfo,
  CertificateSelector,
  PutOptions,
  RateDecision,
  RevokeCertificateOptions,
  RevokeCertificateResult,
  StateOutcome,
  StoreOutcome,
  TokenRecord,
  TokenRefusal,
  TokenStore,
} from './types.js';

/** One certificate's index entry: its info and its tokens (jti → identityId). */
interface CertEntry {
  info: CertificateInfo;
  tokens: Map<string, string>;
  /** The longest maxExpiresAt of its tokens: the entry is dropped then. */
  until: number;
}

export interface MemoryTokenStoreOptions {
  /** How often records past maxExpiresAt are dropped even if nobody reads them (default 60 s). */
  sweepIntervalMs?: number;
  /** The sweep's notion of "now" (check/renew use the `now` they are given). */
  clock?: Clock;
}

/**
 * `store.url: memory`: one process only, so limits hold only while a single gateway runs.
 * Every method body is synchronous up to its return, which makes each check-and-consume atomic
 * on Node's single thread — the same guarantee the Redis store gets from Lua.
 */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory' as const;
  /** Protected so tests can reach behind the store's back, as they do with a raw Redis client. */
  protected readonly records = new Map<string, TokenRecord>();
  /** identityId → revoke-all watermark. One small entry per identity ever revoked; never expires. */
  private readonly watermarks = new Map<string, number>();
  /** API-managed identities (id → document) and their change counter: this process only. */
  private readonly identityDocs = new Map<string, string>();
  private identityVersion = 0;
  /** identityId → its outstanding tokens (the quota's count; see memory-limits.ts). */
  private readonly outstanding = new Map<string, OutstandingTokens>();
  private readonly rates = new RateWindows();
  /** Certificate index: sha256 → entry, and issuerSerialKey → sha256s. */
  private readonly certs = new Map<string, CertEntry>();
  private readonly bySerial = new Map<string, Set<string>>();
  /** Revoked-certificate markers: `sha:<sha256>` / `serial:<issuerSerialKey>` → until (epoch ms). */
  private readonly markers = new Map<string, number>();
  private readonly clock: Clock;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(opts: MemoryTokenStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.sweepTimer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 60_000);
    // The sweep is housekeeping; it must never keep a CLI or test process alive.
    this.sweepTimer.unref();
  }

  /** Number of records held (expired ones included until dropped). */
  get size(): number {
    return this.records.size;
  }

  /** Drops every record whose hard cap has passed; returns how many. */
  sweep(now: number = this.clock.now()): number {
    let dropped = 0;
    for (const [jti, rec] of this.records) {
      if (now >= rec.maxExpiresAt) {
        this.forget(rec);
        dropped++;
      }
    }
    this.rates.sweep(now);
    for (const [sha, e] of this.certs) {
      if (now < e.until) continue;
      this.certs.delete(sha);
      const key = issuerSerialKey(e.info.issuer, e.info.serial);
      this.bySerial.get(key)?.delete(sha);
      if (this.bySerial.get(key)?.size === 0) this.bySerial.delete(key);
    }
    for (const [key, until] of this.markers) if (now >= until) this.markers.delete(key);
    return dropped;
  }

  async put(record: TokenRecord, opts: PutOptions = {}): Promise<void> {
    this.assertOpen();
    // jti collisions would silently reset uses or un-revoke a token; refuse instead.
    if (this.records.has(record.jti)) throw new Error(`token store: duplicate jti ${record.jti}`);
    const address = opts.addressRate;
    if (address) {
      assertRate(address.bucket, address.limit, address.windowMs);
      const d = this.rates.hit(address.bucket, address.limit, address.windowMs, record.createdAt);
      if (!d.allowed) throw addressRateLimited(d.retryAfterMs);
    }
    const rate = opts.identityRate;
    if (rate) {
      // The same bucket LoginLimits counted in before the rate was folded into put.
      const d = this.rates.hit(`identity:${record.identityId}`, rate.limit, rate.windowMs, record.createdAt);
      if (!d.allowed) throw identityRateLimited(d.retryAfterMs);
    }
    let set = this.outstanding.get(record.identityId);
    if (!set) this.outstanding.set(record.identityId, (set = new OutstandingTokens()));
    const max = opts.maxOutstanding ?? 0;
    if (max > 0 && set.count(record.createdAt) >= max) throw quotaExceeded(set.nextExpiry() - record.createdAt);
    this.records.set(record.jti, copy(record));
    set.add(record.jti, record.expiresAt);
  }

  async hitRate(bucket: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
    this.assertOpen();
    return this.rates.hit(bucket, limit, windowMs, now);
  }

  async check(jti: string, identityId: string, now: number, consume: boolean): Promise<StoreOutcome> {
    const r = this.checked(jti, identityId, now, consume);
    return 'reason' in r ? r : { ok: true, record: copy(r) };
  }

  async checkState(jti: string, identityId: string, now: number, consume: boolean): Promise<StateOutcome> {
    const r = this.checked(jti, identityId, now, consume);
    return 'reason' in r ? r : { ok: true, state: { expiresAt: r.expiresAt, usesRemaining: r.usesRemaining } };
  }

  /** check's one step: the refusal checks, then (consume and limited) one use taken. */
  private checked(jti: string, identityId: string, now: number, consume: boolean): TokenRecord | { ok: false; reason: TokenRefusal } {
    this.assertOpen();
    const rec = this.records.get(jti);
    const reason = this.refusal(rec, identityId, now);
    if (reason || !rec) return { ok: false, reason: reason ?? 'not_found' };
    if (consume && rec.usesLimit > 0) {
      rec.usesRemaining -= 1;
      // The last use spent: no longer outstanding, it stops counting against the quota.
      if (rec.usesRemaining <= 0) this.outstanding.get(rec.identityId)?.delete(rec.jti);
    }
    return rec;
  }

  async renew(jti: string, identityId: string, now: number, newExpiresAt: number): Promise<StoreOutcome> {
    this.assertOpen();
    const rec = this.records.get(jti);
    const reason = this.refusal(rec, identityId, now);
    if (reason || !rec) return { ok: false, reason: reason ?? 'not_found' };
    rec.expiresAt = Math.min(newExpiresAt, rec.maxExpiresAt);
    this.outstanding.get(rec.identityId)?.renew(rec.jti, rec.expiresAt);
    return { ok: true, record: copy(rec) };
  }

  async revoke(jti: string, identityId: string): Promise<boolean> {
    this.assertOpen();
    const rec = this.records.get(jti);
    if (!rec || rec.identityId !== identityId) return false;
    rec.revoked = true;
    this.outstanding.get(rec.identityId)?.delete(jti);
    return true;
  }

  async revokeIdentity(identityId: string, at: number): Promise<void> {
    this.assertOpen();
    // Monotonic: a later call with an older `at` must not un-revoke anything.
    const current = this.watermarks.get(identityId);
    if (current === undefined || at > current) this.watermarks.set(identityId, at);
    // The tokens the watermark covers are no longer outstanding.
    const set = this.outstanding.get(identityId);
    set?.deleteWhere((jti) => (this.records.get(jti)?.createdAt ?? -Infinity) <= at);
  }

  async indexToken(cert: CertificateInfo, token: Pick<TokenRecord, 'identityId' | 'jti' | 'maxExpiresAt'>, now: number): Promise<{ certificateRevoked: boolean }> {
    this.assertOpen();
    let e = this.certs.get(cert.sha256);
    if (!e) {
      e = { info: cert, tokens: new Map(), until: token.maxExpiresAt };
      this.certs.set(cert.sha256, e);
      const key = issuerSerialKey(cert.issuer, cert.serial);
      this.bySerial.set(key, (this.bySerial.get(key) ?? new Set()).add(cert.sha256));
    }
    e.info = { ...cert, path: [...cert.path] };
    e.tokens.set(token.jti, token.identityId);
    e.until = Math.max(e.until, token.maxExpiresAt);
    return { certificateRevoked: this.markedRevoked(cert, now) };
  }

  async putAndIndex(record: TokenRecord, cert: CertificateInfo, opts: PutOptions, now: number): Promise<{ certificateRevoked: boolean }> {
    await this.put(record, opts);
    return this.indexToken(cert, record, now);
  }

  async certificate(sha256: string): Promise<CertificateInfo | undefined> {
    this.assertOpen();
    const e = this.certs.get(sha256);
    return e ? { ...e.info, path: [...e.info.path] } : undefined;
  }

  async revokeCertificate(sel: CertificateSelector, opts: RevokeCertificateOptions): Promise<RevokeCertificateResult> {
    this.assertOpen();
    const known = new Map<string, CertEntry>();
    if (sel.sha256 && this.certs.has(sel.sha256)) known.set(sel.sha256, this.certs.get(sel.sha256)!);
    if (sel.issuer !== undefined && sel.serial !== undefined) {
      for (const sha of this.bySerial.get(issuerSerialKey(sel.issuer, sel.serial)) ?? []) known.set(sha, this.certs.get(sha)!);
    }
    let marked = false;
    // Never shortens a marker already there; one whose end has passed is not written.
    const mark = (key: string, until: number) => {
      if (until <= opts.now) return;
      this.markers.set(key, Math.max(until, this.markers.get(key) ?? 0));
      marked = true;
    };
    const infos = [...known.values()].map((e) => e.info);
    for (const c of infos) {
      mark(`sha:${c.sha256}`, c.notAfter);
      mark(`serial:${issuerSerialKey(c.issuer, c.serial)}`, c.notAfter);
    }
    if (!opts.onlyKnown) {
      if (sel.sha256 && !known.has(sel.sha256)) mark(`sha:${sel.sha256}`, opts.defaultUntil);
      if (sel.issuer !== undefined && sel.serial !== undefined && !infos.some((c) => c.issuer === sel.issuer && c.serial === sel.serial)) {
        mark(`serial:${issuerSerialKey(sel.issuer, sel.serial)}`, opts.defaultUntil);
      }
    }
    let tokens = 0;
    for (const e of known.values()) {
      for (const jti of e.tokens.keys()) {
        const rec = this.records.get(jti);
        if (rec && !rec.revoked) {
          rec.revoked = true;
          this.outstanding.get(rec.identityId)?.delete(jti);
          tokens++;
        }
      }
    }
    return { tokens, certificates: infos.map((c) => ({ ...c, path: [...c.path] })), marked };
  }

  async isCertificateRevoked(cert: { sha256: string; issuer?: string; serial?: string }, now: number): Promise<boolean> {
    this.assertOpen();
    return this.markedRevoked(cert, now);
  }

  private markedRevoked(cert: { sha256: string; issuer?: string; serial?: string }, now: number): boolean {
    const live = (key: string) => now < (this.markers.get(key) ?? -Infinity);
    return live(`sha:${cert.sha256}`) || (cert.issuer !== undefined && cert.serial !== undefined && live(`serial:${issuerSerialKey(cert.issuer, cert.serial)}`));
  }

  async putIdentity(id: string, doc: string): Promise<boolean> {
    this.assertOpen();
    const created = !this.identityDocs.has(id);
    this.identityDocs.set(id, doc);
    this.identityVersion++;
    return created;
  }

  async deleteIdentity(id: string): Promise<boolean> {
    this.assertOpen();
    if (!this.identityDocs.delete(id)) return false;
    this.identityVersion++;
    return true;
  }

  async getIdentity(id: string): Promise<string | null> {
    this.assertOpen();
    return this.identityDocs.get(id) ?? null;
  }

  async listIdentities(): Promise<{ version: number; identities: Map<string, string> }> {
    this.assertOpen();
    return { version: this.identityVersion, identities: new Map(this.identityDocs) };
  }

  async identitiesVersion(): Promise<number> {
    this.assertOpen();
    return this.identityVersion;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.records.clear();
    this.outstanding.clear();
    this.rates.clear();
    this.certs.clear();
    this.bySerial.clear();
    this.markers.clear();
  }

  private forget(rec: TokenRecord): void {
    this.records.delete(rec.jti);
    // Its certificate's entry lists only tokens that still exist: a certificate logging in around
    // the clock keeps its entry alive, which must not keep every token it ever had.
    this.certs.get(rec.certSha256)?.tokens.delete(rec.jti);
    const set = this.outstanding.get(rec.identityId);
    set?.delete(rec.jti);
    if (set?.size === 0) this.outstanding.delete(rec.identityId);
  }

  /** The checks of TokenStore.check, in the same order as the Redis Lua prelude. */
  private refusal(rec: TokenRecord | undefined, identityId: string, now: number): TokenRefusal | null {
    // A token presented under another identity is not that identity's token.
    if (!rec || rec.identityId !== identityId) return 'not_found';
    const watermark = this.watermarks.get(identityId);
    if (rec.revoked || (watermark !== undefined && rec.createdAt <= watermark)) return 'revoked';
    if (now >= rec.expiresAt) {
      // Past the hard cap nothing can revive it (renew included): drop it now rather than at the sweep.
      if (now >= rec.maxExpiresAt) this.forget(rec);
      return 'expired';
    }
    if (rec.usesLimit > 0 && rec.usesRemaining <= 0) return 'uses_exhausted';
    return null;
  }

  private assertOpen(): void {
    if (!this.sweepTimer) throw storeUnavailable('token store closed');
  }
}

/** Callers get snapshots: mutating a returned record must not change the store. */
function copy(rec: TokenRecord): TokenRecord {
  return { ...rec, scopes: [...rec.scopes], trustedIps: [...rec.trustedIps] };
}
