import { randomUUID } from 'node:crypto';
import { certRefused, forbidden, tokenRefused } from '../errors.js';
import { certificateClaimsOf } from '../identity/certificate-claims.js';
import type { CompiledIdentity } from '../identity/policy.js';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import type { CertificateInfo, PutOptions, StateOutcome, StoreOutcome, TokenRecord, TokenRefusal, TokenState, TokenStore } from '../store/types.js';
import { BoundedMap } from '../util/bounded-map.js';
import { CidrSet } from '../util/cidr.js';
import type { Clock } from '../util/clock.js';
import { signToken, verifyToken, type AccessClaims } from './jwt.js';
import type { KeyRing } from './keys.js';

export interface TokenResponse {
  accessToken: string;
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: 'Bearer';
}

/** What the caller's request says about it: where it comes from and which certificate it carries. */
export interface CallerContext {
  clientIp: string;
  /** SHA-256 of the client certificate this request carries; asked only for bound tokens. */
  presentedCertSha256: () => string | undefined;
}

export interface TokenServiceOptions {
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
  store: TokenStore;
  keys: KeyRing;
  clock: Clock;
  /** The configured identity of that id: tokens of a removed identity stop working at once. */
  identity: (id: string) => CompiledIdentity | undefined;
  /**
   * Renew's revocation re-check of the token's certificate (CRL, OCSP: see src/http/server.ts);
   * throws to refuse. Absent: renew checks no revocation.
   */
  recheckRevocation?: (record: TokenRecord, identity: CompiledIdentity, now: number) => Promise<void>;
}

/** What a successful bearer check yields to the route that asked for it. */
export interface Authorized {
  claims: AccessClaims;
  record: TokenRecord;
}

const REFUSALS: Record<TokenRefusal, [string, string]> = {
  not_found: ['token_unknown', 'the access token is not known (expired, or never issued here)'],
  revoked: ['token_revoked', 'the access token has been revoked'],
  expired: ['token_expired', 'the access token has expired'],
  uses_exhausted: ['token_uses_exhausted', 'the access token has no uses left'],
};

function unwrap(outcome: StoreOutcome): TokenRecord {
  if (outcome.ok) return outcome.record;
  const [code, message] = REFUSALS[outcome.reason];
  throw tokenRefused(code, message);
}

function unwrapState(outcome: StateOutcome): TokenState {
  if (outcome.ok) return outcome.state;
  const [code, message] = REFUSALS[outcome.reason];
  throw tokenRefused(code, message);
}

const floorSec = (ms: number) => Math.floor(ms / 1000);

/** A certificate's DER as base64, once per parsed certificate (parsed ones are shared and immutable). */
const base64s = new WeakMap<ParsedCert, string>();
function base64Of(c: ParsedCert): string {
  let b = base64s.get(c);
  if (b === undefined) base64s.set(c, (b = Buffer.from(c.der).toString('base64')));
  return b;
}

/** How many tokens the verified-JWT and fixed-fields caches each hold (see TokenService). */
export const TOKEN_CACHE_ENTRIES = 6_000;

/**
 * Token lifecycle: issue after a verified login, and the follow-up checks. The JWT carries the
 * claims; the store record carries every limit, so a limit holds on every gateway that shares it.
 */
export class TokenService {
  // Trusted-IP lists are immutable per token; compile each distinct list once.
  private readonly cidrCache = new BoundedMap<string, CidrSet>(1000);
  // Sized for memory: a verified token (its text's digest and its claims) holds ~0.8 KB and a
  // fixed-fields entry (the record as first read) ~0.6 KB, so 6,000 tokens cost ~8.5 MB together
  // (10,000 put the gateway's peak RSS just over 150 MB under `bench --rss`, docs/performance.md).
  // A token evicted from the first costs one signature check on its next call, from the second one
  // whole-record read: a gateway serving more than 6,000 tokens that all call often pays those.
  private readonly verified = new BoundedMap<string, AccessClaims>(TOKEN_CACHE_ENTRIES);
  private readonly fixedFields = new BoundedMap<string, FixedFields>(TOKEN_CACHE_ENTRIES);

  constructor(private readonly o: TokenServiceOptions) {}

  /**
   * With `maxOutstanding` (limits.outstandingTokensPerIdentity) the store refuses, 429
   * token_quota_exceeded, when the identity already holds that many outstanding tokens; with
   * `identityRate` (limits.loginsPerIdentityPerMinute), 429 rate_limited, in the same store step.
   * `path`: the validated path, leaf first (kept in the store for renew's revocation re-check).
   */
  async issue(
    identity: CompiledIdentity,
    leaf: ParsedCert,
    opts: { maxOutstanding?: number; identityRate?: PutOptions['identityRate']; addressRate?: PutOptions['addressRate']; path?: readonly ParsedCert[] } = {},
  ): Promise<{ response: TokenResponse; record: TokenRecord }> {
    const id = identity.config;
    // createdAt keeps milliseconds: a revoke-all watermark set a moment ago must not cover a token
    // issued after it. Expiries are whole seconds, like the JWT's exp.
    const now = this.o.clock.now();
    const signingKey = this.o.keys.active;
    const nowSec = floorSec(now) * 1000;
    const maxExpiresAt = Math.min(nowSec + id.accessTokenMaxTTL * 1000, floorSec(leaf.notAfter.getTime()) * 1000);
    const expiresAt = Math.min(nowSec + id.accessTokenTTL * 1000, maxExpiresAt);
    const record: TokenRecord = {
      jti: randomUUID(),
      identityId: id.id,
      subject: leaf.subject,
      scopes: id.scopes,
      createdAt: now,
      expiresAt,
      maxExpiresAt,
      usesLimit: id.accessTokenNumUsesLimit,
      usesRemaining: id.accessTokenNumUsesLimit,
      trustedIps: id.accessTokenTrustedIps,
      certSha256: leaf.sha256,
      revoked: false,
      certClaims: certificateClaimsOf(id.certificateClaims, leaf),
      certIssuer: leaf.issuer,
      certSerial: leaf.serial,
    };
    const cert: CertificateInfo = {
      sha256: leaf.sha256,
      issuer: leaf.issuer,
      serial: leaf.serial,
      notAfter: leaf.notAfter.getTime(),
      path: (opts.path ?? [leaf]).map(base64Of),
    };
    // The record, then the index read atomically with the revoked-certificate markers — in this
    // order, so that a certificate revoke racing this login either is seen here or sees this token
    // (see RedisTokenStore.indexToken). The record before the JWT: a store outage must leave no
    // usable token behind.
    const { certificateRevoked } = await this.o.store.putAndIndex(record, cert, { maxOutstanding: opts.maxOutstanding ?? 0, identityRate: opts.identityRate, addressRate: opts.addressRate }, now);
    if (certificateRevoked) {
      // Revoking the certificate again revokes this record (no JWT was signed for it, but no record
      // of it may stay usable) and moves its markers to its notAfter, now known: a revoke of a
      // certificate never seen could only guess it (UNKNOWN_CERTIFICATE_MARKER_MS).
      await this.o.store.revokeCertificate({ sha256: cert.sha256, issuer: cert.issuer, serial: cert.serial }, { now, defaultUntil: cert.notAfter });
      throw certRefused('certificate_revoked', 'the certificate has been revoked');
    }
    const accessToken = await signToken(this.claimsFor(record, identity), signingKey);
    return { response: this.response(accessToken, record, nowSec), record };
  }

  /**
   * The bearer check of every protected call, in this order: JWT (signature, alg, iss, aud, exp,
   * nbf), the store record (exists, not revoked, not expired, uses left), the client IP, the
   * certificate binding, and only then one use, taken atomically. A refused call costs no use.
   */
  async authorize(token: string, ctx: CallerContext & { consume: boolean; requiredScopes?: readonly string[] }): Promise<Authorized> {
    const claims = await this.verify(token);
    const now = this.o.clock.now();
    // Everything in a record but its expiry and uses left never changes after issue; once one call
    // has read the record, later calls check IPs, scopes and binding locally, and go to the store
    // once, for the changing part only (a smaller reply, less to decode).
    let fixed = this.fixedFields.get(claims.jti);
    if (!fixed) {
      const first = unwrap(await this.o.store.check(claims.jti, claims.sub, now, false));
      fixed = { record: first, trustedIpSet: this.cidrs(first.trustedIps) };
      this.fixedFields.set(claims.jti, fixed);
      this.checkCaller(claims, fixed, ctx);
      this.checkScopes(fixed, ctx.requiredScopes);
      if (!(ctx.consume && first.usesLimit > 0)) return { claims, record: first };
    } else {
      this.checkCaller(claims, fixed, ctx);
      this.checkScopes(fixed, ctx.requiredScopes);
    }
    const consume = ctx.consume && fixed.record.usesLimit > 0;
    const state = unwrapState(await this.o.store.checkState(claims.jti, claims.sub, now, consume));
    return { claims, record: { ...fixed.record, expiresAt: state.expiresAt, usesRemaining: state.usesRemaining } };
  }

  /** New JWT, same jti, uses and limits; exp = min(now + TTL, max expiry, certificate notAfter). */
  async renew(token: string, ctx: CallerContext): Promise<{ response: TokenResponse; claims: AccessClaims }> {
    const claims = await this.verify(token);
    const now = this.o.clock.now();
    const signingKey = this.o.keys.active;
    const current = unwrap(await this.o.store.check(claims.jti, claims.sub, now, false));
    this.checkCaller(claims, { record: current, trustedIpSet: this.cidrs(current.trustedIps) }, ctx);
    const identity = this.o.identity(current.identityId)!; // checkCaller refused a removed identity
    if (current.expiresAt >= current.maxExpiresAt) {
      throw tokenRefused('token_max_ttl_reached', 'the access token has reached its maximum lifetime; log in again');
    }
    await this.o.recheckRevocation?.(current, identity, now);
    const nowSec = floorSec(now) * 1000;
    const target = nowSec + identity.config.accessTokenTTL * 1000;
    const record = unwrap(await this.o.store.renew(claims.jti, claims.sub, now, target));
    const accessToken = await signToken(this.claimsFor(record, identity, floorSec(now)), signingKey);
    return { response: this.response(accessToken, record, nowSec), claims };
  }

  async revoke(token: string): Promise<AccessClaims> {
    const claims = await this.verify(token);
    await this.o.store.revoke(claims.jti, claims.sub);
    return claims;
  }

  /** Signature and claims only (no store): the first step of every token operation. */
  verify(token: string): Promise<AccessClaims> {
    return verifyToken(token, this.o.keys, {
      issuer: this.o.issuer,
      audience: this.o.audience,
      now: this.o.clock.now(),
      clockSkewSeconds: this.o.clockSkewSeconds,
      cache: this.verified,
    });
  }

  /** Looks a record up without consuming a use (token/self, introspection). */
  async lookup(claims: AccessClaims): Promise<TokenRecord> {
    const record = unwrap(await this.o.store.check(claims.jti, claims.sub, this.o.clock.now(), false));
    if (!this.o.identity(record.identityId)) throw tokenRefused('token_unknown', 'the identity of this token is no longer configured');
    return record;
  }

  private checkScopes(fixed: FixedFields, required: readonly string[] | undefined): void {
    const missing = required?.filter((s) => !fixed.record.scopes.includes(s));
    if (missing && missing.length > 0) throw forbidden('insufficient_scope', `the access token lacks scope ${missing.join(' ')}`);
  }

  private checkCaller(claims: AccessClaims, { record, trustedIpSet }: FixedFields, ctx: CallerContext): void {
    if (record.identityId !== claims.sub) throw tokenRefused('token_unknown', 'the access token is not known');
    if (!this.o.identity(record.identityId)) throw tokenRefused('token_unknown', 'the identity of this token is no longer configured');
    if (!trustedIpSet.contains(ctx.clientIp)) {
      throw forbidden('token_ip_not_allowed', 'the access token may not be used from this address');
    }
    const bound = claims.cnf?.['x5t#S256'];
    if (bound === undefined) return;
    if (bound !== toX5t(record.certSha256)) throw tokenRefused('token_binding_invalid', 'the token binding does not match its record');
    const presented = ctx.presentedCertSha256();
    if (presented === undefined || toX5t(presented) !== bound) {
      throw tokenRefused('token_certificate_mismatch', 'this token is bound to a client certificate the request does not carry');
    }
  }

  private cidrs(list: string[]): CidrSet {
    const key = list.join(',');
    let set = this.cidrCache.get(key);
    if (!set) {
      set = new CidrSet(list);
      this.cidrCache.set(key, set);
    }
    return set;
  }

  private claimsFor(record: TokenRecord, identity: CompiledIdentity, iat = floorSec(record.createdAt)): AccessClaims {
    const id = identity.config;
    // The schema keeps both claim sources apart from each other and from the reserved claims.
    return {
      ...id.claims,
      ...record.certClaims,
      iss: this.o.issuer,
      aud: this.o.audience,
      sub: record.identityId,
      jti: record.jti,
      iat,
      nbf: iat,
      exp: floorSec(record.expiresAt),
      scope: record.scopes.join(' '),
      ...(id.bindTokenToCertificate ? { cnf: { 'x5t#S256': toX5t(record.certSha256) } } : {}),
    };
  }

  private response(accessToken: string, record: TokenRecord, nowSec: number): TokenResponse {
    return {
      accessToken,
      expiresIn: Math.max(0, floorSec(record.expiresAt - nowSec)),
      accessTokenMaxTTL: floorSec(record.maxExpiresAt - floorSec(record.createdAt) * 1000),
      tokenType: 'Bearer',
    };
  }
}

/**
 * A token's record as its first call read it, with its IP list compiled: every field but expiresAt
 * and usesRemaining (which checkState answers on each call) never changes after issue.
 */
interface FixedFields {
  record: TokenRecord;
  trustedIpSet: CidrSet;
}

/** RFC 8705 x5t#S256: base64url of the SHA-256 of the certificate DER. */
function toX5t(sha256Hex: string): string {
  return Buffer.from(sha256Hex, 'hex').toString('base64url');
}

