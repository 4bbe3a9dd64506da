/**
 * The token store: the single source of truth for a token's limits. A JWT alone is never enough;
 * every follow-up call must find the record for its `jti` here, unrevoked and with uses left.
 * Times are epoch milliseconds, passed in by the caller (injected clock), never read inside —
 * with one exception: the Redis store orders revoke-all by Redis's own clock (see revokeIdentity).
 */
export interface TokenRecord {
  jti: string;
  identityId: string;
  /** The certificate subject (RFC 4514 string) the token was issued for. */
  subject: string;
  scopes: string[];
  /**
   * Issue time by the issuing gateway's clock: JWT iat, max-TTL arithmetic, and (memory store)
   * the revoke-all comparison. The Redis store compares its own serverCreatedAt instead.
   */
  createdAt: number;
  /** Current expiry; renew moves it forward, never past maxExpiresAt. */
  expiresAt: number;
  /** Hard cap across renewals: min(createdAt + accessTokenMaxTTL, certificate notAfter). */
  maxExpiresAt: number;
  /** 0 = unlimited. */
  usesLimit: number;
  /** Uses left; equals usesLimit at issue; ignored when usesLimit is 0. */
  usesRemaining: number;
  /** CIDRs the follow-up calls must come from. */
  trustedIps: string[];
  /** Hex SHA-256 of the client certificate DER (also the RFC 8705 binding when enabled). */
  certSha256: string;
  revoked: boolean;
  /** Claims taken from the certificate at login (identity `certificateClaims`); fixed for the token's life. */
  certClaims?: Record<string, string | string[]>;
  /** Issuer DN (certgate's rendering, see src/pki/certificate-id.ts) and serial of the certificate. Absent on records of older versions. */
  certIssuer?: string;
  certSerial?: string;
}

/**
 * What the store keeps about a certificate while it has tokens: the index from the certificate to
 * its tokens (see TokenStore.indexToken). Kept until the longest of its tokens' maxExpiresAt.
 */
export interface CertificateInfo {
  sha256: string;
  issuer: string;
  serial: string;
  /** Epoch ms: a revoked-certificate marker is kept until then. */
  notAfter: number;
  /** The validated path, leaf first, as base64 DER: renew re-checks revocation with it. */
  path: string[];
}

/** A certificate named by its SHA-256, by its issuer and serial, or by both (all normalized). */
export type CertificateSelector = { sha256: string; issuer?: string; serial?: string } | { sha256?: string; issuer: string; serial: string };

export interface RevokeCertificateOptions {
  now: number;
  /** Expiry of the markers of a certificate the store does not know (its notAfter is unknown). */
  defaultUntil: number;
  /**
   * Only certificates the store knows (that have or had tokens) get markers: a CRL lists many
   * certificates that never logged in, and its own check at login refuses those.
   */
  onlyKnown?: boolean;
}

export interface RevokeCertificateResult {
  /** Tokens newly revoked by this call (already revoked or gone ones are not counted). */
  tokens: number;
  /** The known certificates the selector matched. */
  certificates: CertificateInfo[];
  /** Whether any marker was written (logins of the certificate are refused while it lasts). */
  marked: boolean;
}

export const TOKEN_REFUSALS = ['not_found', 'revoked', 'expired', 'uses_exhausted'] as const;
export type TokenRefusal = (typeof TOKEN_REFUSALS)[number];

export type StoreOutcome = { ok: true; record: TokenRecord } | { ok: false; reason: TokenRefusal };

/** The part of a record that changes after issue (renew moves expiresAt, a use lowers usesRemaining). */
export interface TokenState {
  expiresAt: number;
  usesRemaining: number;
}

export type StateOutcome = { ok: true; state: TokenState } | { ok: false; reason: TokenRefusal };

export interface PutOptions {
  /**
   * Refuse with 429 `token_quota_exceeded` (a CertgateError, nothing written) when the identity
   * already holds this many outstanding tokens: not expired by `record.createdAt`, not revoked,
   * not covered by a revoke-all, uses not exhausted. 0 or absent = no quota.
   */
  maxOutstanding?: number;
  /**
   * The identity's login rate (limits.loginsPerIdentityPerMinute), counted in the same step as the
   * quota, before it: a login over `limit` in the window is refused with 429 `rate_limited` (a
   * CertgateError with Retry-After until the window ends; nothing written, nothing counted). An
   * admitted login counts even if the quota then refuses it. Windows as in hitRate (redis: Redis's
   * clock; memory: `record.createdAt`). Absent = no limit.
   */
  identityRate?: { limit: number; windowMs: number };
  /**
   * The client address's login rate (limits.loginsPerIpPerMinute) on `bucket` (see hitRate),
   * counted first, before the identity's rate: over it, 429 `rate_limited` with Retry-After and
   * nothing else counted or written. In the same step where the store can (the Redis store's
   * one-script login), else as one hitRate just before. Absent = not counted here.
   */
  addressRate?: { bucket: string; limit: number; windowMs: number };
}

/** One hit of a fixed-window counter (see TokenStore.hitRate). */
export interface RateDecision {
  allowed: boolean;
  /** Hits counted in the current window, this one included when allowed. */
  count: number;
  /** Time until the current window ends (ms, > 0): the Retry-After of a refusal. */
  retryAfterMs: number;
}

export interface TokenStore {
  readonly kind: 'redis' | 'memory';
  /**
   * Creates the record; the store drops it by itself at maxExpiresAt. With `maxOutstanding`, counts
   * the identity's outstanding tokens and refuses in the same atomic step, and with `identityRate`
   * counts the login first, in that same step (see PutOptions).
   */
  put(record: TokenRecord, opts?: PutOptions): Promise<void>;
  /**
   * Atomically: the record exists, is not revoked (by itself or by its identity's revoke-all
   * watermark: created at or before it, see revokeIdentity), `now < expiresAt`, and — when usesLimit > 0 — has a use
   * left. With `consume`, one use is then taken in the same atomic step; the returned record shows
   * the uses left after it. A missing record is `not_found`, never re-created.
   */
  check(jti: string, identityId: string, now: number, consume: boolean): Promise<StoreOutcome>;
  /**
   * `check`, answering only the record's changing part: for callers that already hold the fields
   * that never change after issue (the bearer check of every call after a token's first). The same
   * atomic step; a smaller reply.
   */
  checkState(jti: string, identityId: string, now: number, consume: boolean): Promise<StateOutcome>;
  /** Same checks as `check` (consumes nothing), then expiresAt = min(newExpiresAt, maxExpiresAt). */
  renew(jti: string, identityId: string, now: number, newExpiresAt: number): Promise<StoreOutcome>;
  /**
   * Marks the record revoked; false when it did not exist (or belongs to another identity).
   * `identityId` is the verified token's `sub`: the store finds the record by it.
   */
  revoke(jti: string, identityId: string): Promise<boolean>;
  /**
   * Revokes every token of the identity created so far, on every gateway, by raising the
   * identity's watermark (never lowering it: an older call arriving late changes nothing).
   * - memory: the watermark is `at`, compared with each record's createdAt. One process, so the
   *   caller's clock is the issuer's clock.
   * - redis: `at` is IGNORED. The watermark is Redis TIME taken inside the script, compared with the
   *   serverCreatedAt that put stamped from Redis TIME, so both sides come from one clock. The
   *   issuing gateway's and the revoking host's (admin API, CLI) clocks may disagree: a gateway
   *   running ahead can no longer issue tokens that survive a revoke-all, and one running behind
   *   no longer has fresh tokens revoked. Callers should not report `at` as exact for Redis.
   */
  revokeIdentity(identityId: string, at: number): Promise<void>;
  /**
   * Identities managed through the admin API (`source: api`), shared by every gateway: `doc` is
   * the identity document as PUT (JSON text), validated by the caller. Every change raises a
   * version counter, which gateways poll to pick changes up (see src/live/controller.ts).
   * Returns true when the id was new.
   */
  putIdentity(id: string, doc: string): Promise<boolean>;
  /** Removes an API identity (and raises the version); false when there was none. */
  deleteIdentity(id: string): Promise<boolean>;
  /** The stored document of one API identity, or null. */
  getIdentity(id: string): Promise<string | null>;
  /** Every API identity (id → document) and the version they were read at (read version first). */
  listIdentities(): Promise<{ version: number; identities: Map<string, string> }>;
  /** The identities' version counter: 0 before the first change. One cheap read. */
  identitiesVersion(): Promise<number>;
  /**
   * Fixed-window rate counter shared by every gateway on the store: the first hit opens a window
   * of `windowMs` on `bucket` (e.g. `ip:10.1.2.3`; no braces); each hit while
   * fewer than `limit` were counted is allowed and counted; others are refused and not counted.
   * - memory: windows are timed by `now`.
   * - redis: `now` is IGNORED; the window is the key's own expiry, timed by Redis's clock, so every
   *   gateway sees the same window whatever its clock says.
   */
  hitRate(bucket: string, limit: number, windowMs: number, now: number): Promise<RateDecision>;
  /**
   * Records that the token belongs to the certificate, AFTER put, and answers whether a
   * revoked-certificate marker names it, read atomically with each index write (by SHA-256, and by
   * issuer + serial): a revoke writes its marker before it reads the index, so either the login
   * sees the marker or the revoke sees the token (which exists: put came first). Also keeps `cert`
   * (its path) for renew.
   */
  indexToken(cert: CertificateInfo, token: Pick<TokenRecord, 'identityId' | 'jti' | 'maxExpiresAt'>, now: number): Promise<{ certificateRevoked: boolean }>;
  /**
   * A login's writes: `put`, then `indexToken`, in that order and with the guarantees of each (a
   * refused put indexes nothing). A store may do both in one atomic step (the Redis store does,
   * where one server holds every key); it never reorders them.
   */
  putAndIndex(record: TokenRecord, cert: CertificateInfo, opts: PutOptions, now: number): Promise<{ certificateRevoked: boolean }>;
  /** The certificate's index entry while any of its tokens may live. */
  certificate(sha256: string): Promise<CertificateInfo | undefined>;
  /**
   * Revokes a certificate: first markers (by SHA-256 and by issuer + serial, kept until the
   * certificate's notAfter, or `defaultUntil` when the store does not know it), then every token
   * the index holds for it, whatever its identity. Idempotent.
   */
  revokeCertificate(selector: CertificateSelector, opts: RevokeCertificateOptions): Promise<RevokeCertificateResult>;
  /** Whether a marker names the certificate (by its SHA-256, or by issuer + serial). */
  isCertificateRevoked(cert: { sha256: string; issuer?: string; serial?: string }, now: number): Promise<boolean>;
  /**
   * Resolves when the store answers; rejects with store_unavailable otherwise, or with
   * store_misconfigured when it answers but could lose certgate's keys (Redis eviction policy).
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
