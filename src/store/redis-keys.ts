import { issuerSerialKey } from '../pki/parsing/certificate-id.js';

/**
 * Virtual shards per identity. A CONSTANT, not a setting: a token's key depends on it, so changing
 * it would make every live token unknown. 16 slots spread over any cluster of up to ~8 masters well
 * enough (one identity's tokens then reach every master); more would only multiply revoke-all's
 * writes (one per shard).
 */
export const TOKEN_SHARDS = 16;

/** The shard of a token: FNV-1a (32 bit) of its jti's UTF-8 bytes, mod TOKEN_SHARDS. Stable forever. */
export function tokenShard(jti: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(jti, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h % TOKEN_SHARDS;
}

/**
 * Key layout: one identity's tokens spread over Redis Cluster slots.
 *
 * - A token lives in one of TOKEN_SHARDS virtual shards of its identity, `{identityId/shard}`
 *   (`/` cannot occur in an identity id: [a-z0-9._-]), next to that shard's revoke-all watermark.
 *   So a check or renew stays ONE script on ONE slot: the token and the watermark it is compared
 *   with. One identity's checks (all build agents, say) reach every master instead of one.
 * - The identity's HOME slot `{identityId}` keeps what is counted per identity: the outstanding-token
 *   set (quota) and the login-rate counter, changed by one script per login (put-home.lua), which
 *   also stamps the token: the home master's TIME, stored by the token script as serverCreatedAt.
 *
 * Revoke-all is exact: every token whose put finished before the call started is refused after it
 * returns. (1) One home script takes a stamp H from the home master's TIME. A put that finished
 * before has its stamp from an earlier home script on the same master, so its stamp < H — and a put
 * still in flight (home step done, token not yet written) is classified the same way, by its stamp,
 * whichever way it races the shard writes. (2) H is raised into all TOKEN_SHARDS watermarks, in
 * parallel (raise-watermark.lua; monotonic, so a late older call changes nothing). Success is
 * reported only when all of them succeeded; otherwise 503 store_unavailable, and the caller
 * retries (idempotent). Each check compares the token's stamp with its own shard's watermark.
 * Tokens stamped after H (puts after step 1) stay valid. Both stamps come from one clock, as
 * before: the residual is a failover of the home master to a replica whose clock lags it.
 * Why the home clock, not each shard's own TIME: the quota set must be freed exactly. Step 1 moves
 * the set aside (every entry in it is stamped < H, so covered once step 2 completes) and new puts
 * count in a fresh one; (3) the moved set is deleted only after every shard holds H. With
 * per-shard clocks a put in flight could not be classified at the home slot, and a revoke-all
 * would have to drop entries of tokens that stay valid.
 *
 * Ordering across the two slots (not atomic, so chosen so that the count errs toward refusing):
 * put = home script (rate, quota, ZADD, stamp) then the token script; if the token write fails,
 * its entry over-counts until it expires. Last use and revoke = token script, then ZREM at home.
 * Renew = home (raise the entry's expiry) then the token. The count may over-count briefly, never
 * under-count.
 *
 * Previous layout (`token:{identityId}:jti` and `revoked-before:{identityId}`, both in the home
 * slot): such tokens keep working until they expire. check, renew and revoke fall back to the old
 * key on not_found (only a miss pays the second round trip), and revoke-all raises the old
 * watermark in its home step. There is no jti → identity index any more: every caller of revoke
 * has verified claims, whose `sub` is the identity.
 */
export function redisKeys(prefix = 'certgate:') {
  return {
    token: (identityId: string, jti: string) => `${prefix}token:{${identityId}/${tokenShard(jti)}}:${jti}`,
    /** Revoke-all watermark of one shard (a home-clock stamp, see above); no expiry (see revokedBefore of the previous layout). */
    revokedBefore: (identityId: string, shard: number) => `${prefix}revoked-before:{${identityId}/${shard}}`,
    /** The previous layout's token key, in the home slot: read on a miss until its tokens expire. */
    legacyToken: (identityId: string, jti: string) => `${prefix}token:{${identityId}}:${jti}`,
    /**
     * The previous layout's watermark, in the home slot; still raised by every revoke-all. No
     * expiry: tokens created before a revoke-all may live up to the identity's max TTL, which the
     * store does not know. One small key per identity ever revoked, plus TOKEN_SHARDS shard keys.
     */
    legacyRevokedBefore: (identityId: string) => `${prefix}revoked-before:{${identityId}}`,
    /** API identities (hash id → document) and their version counter: one {hash tag}, one slot. */
    identities: `${prefix}{identities}:docs`,
    identitiesVersion: `${prefix}{identities}:version`,
    /**
     * The identity's outstanding tokens for `limits.outstandingTokensPerIdentity`: a sorted set
     * jti → expiresAt in the identity's home slot (the same key as in the previous layout). put
     * adds (after trimming what has expired, then counting), renew moves the score, the last use
     * and revoke remove, revoke-all moves it aside (`revoking`) until every shard's watermark is
     * raised. Bounded: it holds at most the quota plus the tokens expired since the identity's last
     * put, ~60 bytes each, and expires with its last token.
     */
    outstanding: (identityId: string) => `${prefix}outstanding:{${identityId}}`,
    /** Outstanding tokens a revoke-all in progress (or failed, until retried) moved aside: still counted. */
    revoking: (identityId: string) => `${prefix}outstanding-revoking:{${identityId}}`,
    /** The stamp of the revoke-all that last moved tokens into `revoking` (only that one deletes it). */
    revokingStamp: (identityId: string) => `${prefix}outstanding-revoking-stamp:{${identityId}}`,
    /** The identity's login-rate counter (limits.loginsPerIdentityPerMinute), counted by put-home.lua. */
    loginRate: (identityId: string) => `${prefix}login-rate:{${identityId}}`,
    /** A login-rate counter of hitRate (see lua/rate.lua): per client address (`ip:…`), one key each. */
    rate: (bucket: string) => `${prefix}rate:{${bucket}}`,
    /**
     * Certificate index (see lua/index-cert-step.lua): a hash with the certificate's issuer, serial,
     * notAfter and path, and beside it (`certTokens`, same slot) a sorted set of its tokens
     * `<identityId>:<jti>` → maxExpiresAt, trimmed at every login. The previous layout's token
     * fields `tok:<identityId>:<jti>` in the hash are still read (and die with their hash). The
     * tokens live under other hash tags (their identities' shards), so a certificate revoke touches
     * them with one single-key script each (lua/revoke-token.lua, then the identity's outstanding
     * set): each is idempotent, so nothing needs them to be atomic together (see revokeCertificate
     * for the ordering).
     */
    cert: (sha256: string) => `${prefix}cert:{${sha256}}`,
    certTokens: (sha256: string) => `${prefix}cert-tokens:{${sha256}}`,
    /** issuer + serial → the sha256s of certificates with that pair (a set; see src/pki/certificate-id.ts). */
    certBySerial: (issuer: string, serial: string) => `${prefix}cert-serial:{${issuerSerialKey(issuer, serial)}}`,
    /** Revoked-certificate markers, expiring at the certificate's notAfter. */
    revokedCert: (sha256: string) => `${prefix}revoked-cert:{${sha256}}`,
    revokedSerial: (issuer: string, serial: string) => `${prefix}revoked-serial:{${issuerSerialKey(issuer, serial)}}`,
  };
}
