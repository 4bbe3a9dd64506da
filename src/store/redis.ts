import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { CertgateError, storeUnavailable } from '../errors.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { connectRedis, type RedisTarget } from './redis-connection.js';
import { issuerSerialKey } from '../pki/certificate-id.js';
import {
  TOKEN_REFUSALS,
  type CertificateInfo,
  type CertificateSelector,
  type RevokeCertificateOptions,
  type RevokeCertificateResult,
  type StoreOutcome,
  type TokenRecord,
  type TokenRefusal,
  type TokenStore,
} from './types.js';

export type { RedisTarget } from './redis-connection.js';

export interface RedisTokenStoreOptions extends RedisTarget {
  /** Prefix of every key (default `certgate:`). */
  keyPrefix?: string;
  /** Per-command timeout; a whole operation is bounded by twice this (default 1000). */
  commandTimeoutMs?: number;
  /** TCP connect + handshake timeout (default 2000). */
  connectTimeoutMs?: number;
  /** Connection errors while (re)connecting in the background, e.g. for logging. */
  onError?: (err: Error) => void;
}

/**
 * Key layout. Both keys a check/renew script touches share the `{identityId}` hash tag, so they
 * sit in one cluster slot (a `{jti}` tag would split them and Redis Cluster would refuse the
 * script with CROSSSLOT). revoke(jti) is only given the jti, so put also writes a small
 * jti → identityId index (same expiry as the token) that revoke reads first; it is written once
 * and never changes, so reading it outside the script races with nothing.
 * Trade-off: all tokens of one identity live on one shard. Benefit: a token's serverCreatedAt and
 * its identity's watermark are both read from the TIME of that one shard's primary, so revoke-all
 * depends on no gateway's clock (residual: a failover to a replica whose clock lags the old
 * primary's by more than the time between an issue and a revoke-all; NTP keeps that to ms).
 */
export function redisKeys(prefix = 'certgate:') {
  return {
    token: (identityId: string, jti: string) => `${prefix}token:{${identityId}}:${jti}`,
    /** Revoke-all watermark; no expiry (see lua/revoke-identity.lua). */
    revokedBefore: (identityId: string) => `${prefix}revoked-before:{${identityId}}`,
    identityOf: (jti: string) => `${prefix}token-identity:${jti}`,
    /**
     * Certificate index (see lua/extend.lua for its expiry): a hash with the certificate's issuer,
     * serial, notAfter and path, and one field `tok:<identityId>:<jti>` per token. Its tokens live
     * under other hash tags (their identities'), so a certificate revoke touches them with one
     * single-key command each, outside any script: each is an idempotent HSET on a key that exists,
     * so nothing needs them to be atomic together (see revokeCertificate for the ordering).
     */
    cert: (sha256: string) => `${prefix}cert:{${sha256}}`,
    /** issuer + serial → the sha256s of certificates with that pair (a set; see src/pki/certificate-id.ts). */
    certBySerial: (issuer: string, serial: string) => `${prefix}cert-serial:{${issuerSerialKey(issuer, serial)}}`,
    /** Revoked-certificate markers, expiring at the certificate's notAfter. */
    revokedCert: (sha256: string) => `${prefix}revoked-cert:{${sha256}}`,
    revokedSerial: (issuer: string, serial: string) => `${prefix}revoked-serial:{${issuerSerialKey(issuer, serial)}}`,
  };
}

/** How long a revoke's first marker lasts before the revoke sets its real end (the same call, moments later). */
const PENDING_MARKER_MS = 10 * 60_000;
const TOKEN_FIELD = /^tok:([^:]+):(.+)$/;

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
const withRefusal = (name: string) => `${lua('refusal')}\n${lua(name)}`;
const withServerTime = (name: string) => `${lua('server-time')}\n${lua(name)}`;

/** The custom commands defineCommand adds (ioredis runs them with EVALSHA, EVAL on NOSCRIPT). */
interface Scripts {
  certgatePut(key: string, maxExpiresAt: string, ...fields: string[]): Promise<number>;
  certgateCheck(key: string, watermark: string, now: string, consume: '0' | '1'): Promise<unknown>;
  certgateRenew(key: string, watermark: string, now: string, newExpiresAt: string): Promise<unknown>;
  certgateRevoke(key: string): Promise<number>;
  certgateRevokeIdentity(watermark: string): Promise<string>;
  certgateExtend(key: string, expireAt: string, command: string, ...args: string[]): Promise<number>;
  certgateRevokeLive(key: string): Promise<number>;
}


export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis' as const;
  readonly keys: ReturnType<typeof redisKeys>;
  private readonly client: (Redis | Cluster) & Scripts;
  private readonly commandTimeoutMs: number;
  private everReady = false;
  private readonly firstReady: Promise<void>;
  private closed = false;

  constructor(opts: RedisTokenStoreOptions) {
    this.keys = redisKeys(opts.keyPrefix);
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 1000;
    const connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    const client = connectRedis(opts, { commandTimeoutMs: this.commandTimeoutMs, connectTimeoutMs });
    // Without a listener ioredis prints every reconnect failure as an "Unhandled error event".
    client.on('error', (err: Error) => opts.onError?.(err));
    this.firstReady = new Promise((resolve) => client.once('ready', () => resolve()));
    void this.firstReady.then(() => (this.everReady = true));
    client.defineCommand('certgatePut', { numberOfKeys: 1, lua: withServerTime('put') });
    client.defineCommand('certgateCheck', { numberOfKeys: 2, lua: withRefusal('check') });
    client.defineCommand('certgateRenew', { numberOfKeys: 2, lua: withRefusal('renew') });
    client.defineCommand('certgateRevoke', { numberOfKeys: 1, lua: lua('revoke') });
    client.defineCommand('certgateRevokeIdentity', { numberOfKeys: 1, lua: withServerTime('revoke-identity') });
    client.defineCommand('certgateExtend', { numberOfKeys: 1, lua: lua('extend') });
    client.defineCommand('certgateRevokeLive', { numberOfKeys: 1, lua: lua('revoke-live') });
    this.client = client as (Redis | Cluster) & Scripts;
  }

  async put(record: TokenRecord): Promise<void> {
    const fields = encodeRecord(record);
    const maxExp = String(record.maxExpiresAt);
    const created = await this.run(async () => {
      // Index first: a token key never exists without the index revoke(jti) needs.
      const indexed = await this.client.set(this.keys.identityOf(record.jti), record.identityId, 'PXAT', maxExp, 'NX');
      if (indexed === null) return false;
      return (await this.client.certgatePut(this.keys.token(record.identityId, record.jti), maxExp, ...fields)) === 1;
    });
    // jti collisions would silently reset uses or un-revoke a token; refuse (a bug, not an outage).
    if (!created) throw new Error(`token store: duplicate jti ${record.jti}`);
  }

  async check(jti: string, identityId: string, now: number, consume: boolean): Promise<StoreOutcome> {
    const reply = await this.run(() =>
      this.client.certgateCheck(this.keys.token(identityId, jti), this.keys.revokedBefore(identityId), String(now), consume ? '1' : '0'),
    );
    return outcome(reply);
  }

  async renew(jti: string, identityId: string, now: number, newExpiresAt: number): Promise<StoreOutcome> {
    const reply = await this.run(() =>
      this.client.certgateRenew(this.keys.token(identityId, jti), this.keys.revokedBefore(identityId), String(now), String(Math.trunc(newExpiresAt))),
    );
    return outcome(reply);
  }

  async revoke(jti: string): Promise<boolean> {
    return this.run(async () => {
      const identityId = await this.client.get(this.keys.identityOf(jti));
      if (identityId === null) return false;
      return (await this.client.certgateRevoke(this.keys.token(identityId, jti))) === 1;
    });
  }

  /**
   * `at` is ignored: the watermark is Redis TIME, taken inside the script, and tokens are compared
   * by the Redis TIME their put stamped (serverCreatedAt), so the clocks of the gateway that issued
   * a token and of the host that revokes do not have to agree. See TokenStore.revokeIdentity.
   */
  async revokeIdentity(identityId: string, _at?: number): Promise<void> {
    await this.run(() => this.client.certgateRevokeIdentity(this.keys.revokedBefore(identityId)));
  }

  async indexToken(cert: CertificateInfo, token: Pick<TokenRecord, 'identityId' | 'jti' | 'maxExpiresAt'>): Promise<void> {
    const at = String(token.maxExpiresAt);
    const fields = ['issuer', cert.issuer, 'serial', cert.serial, 'notAfter', String(cert.notAfter), 'path', JSON.stringify(cert.path), `tok:${token.identityId}:${token.jti}`, '1'];
    await this.run(() =>
      Promise.all([
        this.client.certgateExtend(this.keys.cert(cert.sha256), at, 'HSET', ...fields),
        this.client.certgateExtend(this.keys.certBySerial(cert.issuer, cert.serial), at, 'SADD', cert.sha256),
      ]),
    );
  }

  async certificate(sha256: string): Promise<CertificateInfo | undefined> {
    return this.run(async () => certInfo(sha256, await this.client.hgetall(this.keys.cert(sha256)))?.info);
  }

  /**
   * Order, against a login that indexes its token, puts it, then reads the markers: the marker of
   * the selector's own form is written FIRST, then the index is read. A login that read no marker
   * read before that write, so its index entry was written before this read sees the index, and
   * its token is revoked here. With onlyKnown (a CRL) there is no first marker: a login racing the
   * very moment a CRL is first read may keep its token; the CRL check at its next login or renew
   * refuses it.
   */
  async revokeCertificate(sel: CertificateSelector, opts: RevokeCertificateOptions): Promise<RevokeCertificateResult> {
    const bySerial = sel.issuer !== undefined && sel.serial !== undefined ? { issuer: sel.issuer, serial: sel.serial } : undefined;
    let marked = false;
    const mark = async (key: string, until: number) => {
      if (until <= opts.now) return;
      await this.client.certgateExtend(key, String(until), 'SET', '1', 'KEEPTTL');
      marked = true;
    };
    return this.run(async () => {
      if (!opts.onlyKnown) {
        const pending = Math.min(opts.defaultUntil, opts.now + PENDING_MARKER_MS);
        await Promise.all([
          sel.sha256 ? mark(this.keys.revokedCert(sel.sha256), pending) : undefined,
          bySerial ? mark(this.keys.revokedSerial(bySerial.issuer, bySerial.serial), pending) : undefined,
        ]);
      }
      const shas = new Set<string>(sel.sha256 ? [sel.sha256] : []);
      if (bySerial) for (const sha of await this.client.smembers(this.keys.certBySerial(bySerial.issuer, bySerial.serial))) shas.add(sha);
      const known = (await Promise.all([...shas].map(async (sha) => certInfo(sha, await this.client.hgetall(this.keys.cert(sha)))))).filter((c) => c !== undefined);
      const infos = known.map((k) => k.info);
      const marks: Promise<void>[] = [];
      for (const c of infos) {
        marks.push(mark(this.keys.revokedCert(c.sha256), c.notAfter), mark(this.keys.revokedSerial(c.issuer, c.serial), c.notAfter));
      }
      if (!opts.onlyKnown) {
        if (sel.sha256 && !infos.some((c) => c.sha256 === sel.sha256)) marks.push(mark(this.keys.revokedCert(sel.sha256), opts.defaultUntil));
        if (bySerial && !infos.some((c) => c.issuer === bySerial.issuer && c.serial === bySerial.serial)) {
          marks.push(mark(this.keys.revokedSerial(bySerial.issuer, bySerial.serial), opts.defaultUntil));
        }
      }
      await Promise.all(marks);
      const revoked = await Promise.all(
        known.flatMap((k) => k.tokens.map(({ identityId, jti }) => this.client.certgateRevokeLive(this.keys.token(identityId, jti)))),
      );
      return { tokens: revoked.reduce((n: number, r) => n + Number(r), 0), certificates: infos, marked };
    });
  }

  /** Two single-key reads sent together (different slots under Redis Cluster); `now` is Redis's own. */
  async isCertificateRevoked(cert: { sha256: string; issuer?: string; serial?: string }, _now?: number): Promise<boolean> {
    return this.run(async () => {
      const [bySha, bySerial] = await Promise.all([
        this.client.exists(this.keys.revokedCert(cert.sha256)),
        cert.issuer !== undefined && cert.serial !== undefined ? this.client.exists(this.keys.revokedSerial(cert.issuer, cert.serial)) : 0,
      ]);
      return bySha + bySerial > 0;
    });
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    this.closed = true;
    // disconnect(), not quit(): quit waits for a reply that never comes while Redis is down.
    this.client.disconnect();
  }

  /**
   * Every outage — refused connection, timeout, closed socket, server error — becomes
   * store_unavailable, within 2 × commandTimeoutMs whatever ioredis does internally (EVALSHA →
   * EVAL fallback and cluster redirections may each take a command timeout).
   */
  private async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) throw storeUnavailable('token store closed');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('operation deadline exceeded')), 2 * this.commandTimeoutMs);
    });
    try {
      // Only before the very first connection do we wait for it (a gateway starting up); after
      // that a disconnected client rejects at once instead of queueing.
      const work = (async () => {
        if (!this.everReady) await this.firstReady;
        return op();
      })();
      work.catch(() => undefined); // the deadline may win; its late rejection is expected
      return await Promise.race([work, deadline]);
    } catch (err) {
      if (err instanceof CertgateError) throw err;
      throw Object.assign(storeUnavailable(), { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A certificate index hash (HGETALL) → its info and tokens; undefined when there is none. */
function certInfo(sha256: string, h: Record<string, string>): { info: CertificateInfo; tokens: { identityId: string; jti: string }[] } | undefined {
  if (h.issuer === undefined || h.serial === undefined || h.notAfter === undefined) return undefined;
  const tokens: { identityId: string; jti: string }[] = [];
  for (const field of Object.keys(h)) {
    const m = TOKEN_FIELD.exec(field);
    if (m) tokens.push({ identityId: m[1]!, jti: m[2]! });
  }
  return { info: { sha256, issuer: h.issuer, serial: h.serial, notAfter: Number(h.notAfter), path: JSON.parse(h.path ?? '[]') as string[] }, tokens };
}

/** Script reply → StoreOutcome: {reason} or {'ok', HGETALL}. */
function outcome(reply: unknown): StoreOutcome {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error('token store: unexpected script reply');
  const [status, fields] = reply as [string, unknown];
  if (status === 'ok') return { ok: true, record: decodeRecord(fields) };
  if ((TOKEN_REFUSALS as readonly string[]).includes(status)) return { ok: false, reason: status as TokenRefusal };
  throw new Error(`token store: unexpected script status ${status}`);
}
