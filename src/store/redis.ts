import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { CertgateError, storeUnavailable } from '../errors.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { connectRedis, type RedisTarget } from './redis-connection.js';
import { TOKEN_REFUSALS, type StoreOutcome, type TokenRecord, type TokenRefusal, type TokenStore } from './types.js';

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
    /** API identities (hash id → document) and their version counter: one {hash tag}, one slot. */
    identities: `${prefix}{identities}:docs`,
    identitiesVersion: `${prefix}{identities}:version`,
  };
}

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
  certgateIdentityPut(docs: string, version: string, id: string, doc: string): Promise<number>;
  certgateIdentityDelete(docs: string, version: string, id: string): Promise<number>;
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
    client.defineCommand('certgateIdentityPut', { numberOfKeys: 2, lua: lua('identity-put') });
    client.defineCommand('certgateIdentityDelete', { numberOfKeys: 2, lua: lua('identity-delete') });
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

  async putIdentity(id: string, doc: string): Promise<boolean> {
    return (await this.run(() => this.client.certgateIdentityPut(this.keys.identities, this.keys.identitiesVersion, id, doc))) === 1;
  }

  async deleteIdentity(id: string): Promise<boolean> {
    return (await this.run(() => this.client.certgateIdentityDelete(this.keys.identities, this.keys.identitiesVersion, id))) === 1;
  }

  async getIdentity(id: string): Promise<string | null> {
    return this.run(() => this.client.hget(this.keys.identities, id));
  }

  async listIdentities(): Promise<{ version: number; identities: Map<string, string> }> {
    // Version first: any change counted in it is already in the hash (the script does both at once).
    return this.run(async () => {
      const version = Number((await this.client.get(this.keys.identitiesVersion)) ?? 0);
      const docs = await this.client.hgetall(this.keys.identities);
      return { version, identities: new Map(Object.entries(docs)) };
    });
  }

  async identitiesVersion(): Promise<number> {
    return Number((await this.run(() => this.client.get(this.keys.identitiesVersion))) ?? 0);
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

/** Script reply → StoreOutcome: {reason} or {'ok', HGETALL}. */
function outcome(reply: unknown): StoreOutcome {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error('token store: unexpected script reply');
  const [status, fields] = reply as [string, unknown];
  if (status === 'ok') return { ok: true, record: decodeRecord(fields) };
  if ((TOKEN_REFUSALS as readonly string[]).includes(status)) return { ok: false, reason: status as TokenRefusal };
  throw new Error(`token store: unexpected script status ${status}`);
}
