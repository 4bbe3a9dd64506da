import { readFileSync } from 'node:fs';
import { Cluster, type Redis } from 'ioredis';
import { CertgateError, storeMisconfigured, storeUnavailable } from '../errors.js';
import { assertRate, quotaExceeded } from './limits.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { RedisClock } from './redis-clock.js';
import { connectRedis, type RedisTarget } from './redis-connection.js';
import { judgePolicy, type PolicyVerdict } from './redis-policy.js';
import { writeAndWait, type ReplicaWait } from './redis-wait.js';
import { issuerSerialKey } from '../pki/parsing/certificate-id.js';
import {
  TOKEN_REFUSALS,
  type CertificateInfo,
  type CertificateSelector,
  type PutOptions,
  type RateDecision,
  type RevokeCertificateOptions,
  type RevokeCertificateResult,
  type StateOutcome,
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
  /**
   * The maxmemory-policy verdict (see redis-policy.ts), reported when it changes: at connect and
   * at every maintenance pass. `misconfigured` makes every operation refuse 503 store_misconfigured.
   */
  onPolicy?: (verdict: PolicyVerdict) => void;
  /** How often the Redis clock offset and maxmemory-policy are re-read (default 10 000 ms). */
  maintenanceIntervalMs?: number;
  /**
   * `store.waitReplicas`: after every token, revocation and identity write, Redis WAIT for this many
   * replicas; fewer acknowledgements answer 503 store_unavailable (see redis-wait.ts). Default 0: no WAIT.
   */
  waitReplicas?: number;
  /** How long WAIT may block (default half of commandTimeoutMs, so its answer beats the command timeout). */
  waitReplicasTimeoutMs?: number;
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
    /**
     * The identity's outstanding tokens for `limits.outstandingTokensPerIdentity`: a sorted set
     * jti → expiresAt, in the identity's slot, changed only inside the scripts that change a token:
     * put adds (after trimming what has expired, then counting), renew moves the score, the last
     * use and revoke remove, revoke-all deletes the set. So the count is exact, not an estimate.
     * Bounded: it holds at most the quota plus the tokens expired since the identity's last put,
     * ~60 bytes each — a fraction of the token hashes themselves — and expires with its last token.
     * Tokens written before this set existed are not counted until they are renewed.
     */
    outstanding: (identityId: string) => `${prefix}outstanding:{${identityId}}`,
    /** A login-rate counter (see lua/rate.lua); buckets are ip:… or identity:…, one key each. */
    rate: (bucket: string) => `${prefix}rate:{${bucket}}`,
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
/** A script with the preludes it calls, in order. */
const script = (name: string, ...preludes: string[]) => [...preludes, name].map(lua).join('\n');
const TOKEN_PRELUDES = ['server-time', 'deadline', 'outstanding', 'refusal'];

/** The custom commands defineCommand adds (ioredis runs them with EVALSHA, EVAL on NOSCRIPT). */
interface Scripts {
  certgatePut(key: string, outstanding: string, maxExpiresAt: string, deadline: string, maxOutstanding: string, now: string, expiresAt: string, jti: string, ...fields: string[]): Promise<unknown>;
  certgateCheck(key: string, watermark: string, outstanding: string, now: string, consume: '0' | '1', deadline: string, jti: string, whole: '0' | '1'): Promise<unknown>;
  certgateRenew(key: string, watermark: string, outstanding: string, now: string, newExpiresAt: string, deadline: string, jti: string): Promise<unknown>;
  certgateRevoke(key: string, outstanding: string, jti: string): Promise<number>;
  certgateRevokeIdentity(watermark: string, outstanding: string): Promise<string>;
  certgateRate(key: string, limit: string, windowMs: string): Promise<[number, number, number]>;
  certgateExtend(key: string, expireAt: string, command: string, ...args: string[]): Promise<number>;
  certgateIndexCheck(key: string, marker: string, expireAt: string, command: string, ...args: string[]): Promise<number>;
  certgateRevokeLive(key: string, outstanding: string, jti: string): Promise<number>;
  certgateIdentityPut(docs: string, version: string, id: string, doc: string): Promise<number>;
  certgateIdentityDelete(docs: string, version: string, id: string): Promise<number>;
}

/**
 * How long before the gateway's own command timeout a script must have run to still change
 * anything (see redis-clock.ts): a quarter of the timeout, for the reply's way back.
 */
const deadlineMargin = (commandTimeoutMs: number) => commandTimeoutMs / 4;


export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis' as const;
  readonly keys: ReturnType<typeof redisKeys>;
  private readonly client: (Redis | Cluster) & Scripts;
  private readonly commandTimeoutMs: number;
  private everReady = false;
  private readonly firstReady: Promise<void>;
  private closed = false;
  private readonly clock = new RedisClock();
  /** Set while a master's maxmemory-policy may evict certgate's keys: every operation refuses. */
  private misconfigured: string | undefined;
  private readonly misconfiguredNodes = new Map<string, string>();
  /** Last verdict per node, so onPolicy hears only changes. */
  private readonly verdicts = new Map<string, PolicyVerdict['status']>();
  private readonly maintenance: NodeJS.Timeout;
  private readonly wait: ReplicaWait | undefined;

  constructor(opts: RedisTokenStoreOptions) {
    this.keys = redisKeys(opts.keyPrefix);
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 1000;
    if (opts.waitReplicas) {
      this.wait = { replicas: opts.waitReplicas, timeoutMs: opts.waitReplicasTimeoutMs ?? Math.max(1, Math.floor(this.commandTimeoutMs / 2)) };
    }
    const connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    const client = connectRedis(opts, { commandTimeoutMs: this.commandTimeoutMs, connectTimeoutMs });
    // Without a listener ioredis prints every reconnect failure as an "Unhandled error event".
    client.on('error', (err: Error) => opts.onError?.(err));
    client.defineCommand('certgatePut', { numberOfKeys: 2, lua: script('put', ...TOKEN_PRELUDES) });
    client.defineCommand('certgateCheck', { numberOfKeys: 3, lua: script('check', ...TOKEN_PRELUDES) });
    client.defineCommand('certgateRenew', { numberOfKeys: 3, lua: script('renew', ...TOKEN_PRELUDES) });
    client.defineCommand('certgateRevoke', { numberOfKeys: 2, lua: script('revoke') });
    client.defineCommand('certgateRevokeIdentity', { numberOfKeys: 2, lua: script('revoke-identity', 'server-time') });
    client.defineCommand('certgateRate', { numberOfKeys: 1, lua: script('rate') });
    client.defineCommand('certgateExtend', { numberOfKeys: 1, lua: script('extend', 'write-extend') });
    client.defineCommand('certgateIndexCheck', { numberOfKeys: 2, lua: script('index-check', 'write-extend') });
    client.defineCommand('certgateRevokeLive', { numberOfKeys: 2, lua: script('revoke-live') });
    client.defineCommand('certgateIdentityPut', { numberOfKeys: 2, lua: script('identity-put') });
    client.defineCommand('certgateIdentityDelete', { numberOfKeys: 2, lua: script('identity-delete') });
    this.client = client as (Redis | Cluster) & Scripts;
    // Clock and policy are known before the first operation runs, and re-read at every
    // (re)connect — a restarted Redis may come back with another configuration — and periodically.
    this.firstReady = new Promise((resolve) => client.once('ready', () => void this.maintain(opts.onPolicy).finally(resolve)));
    void this.firstReady.then(() => (this.everReady = true));
    client.on('ready', () => {
      if (this.everReady) void this.maintain(opts.onPolicy);
    });
    this.maintenance = setInterval(() => {
      if (this.everReady && this.client.status === 'ready') void this.maintain(opts.onPolicy);
    }, opts.maintenanceIntervalMs ?? 10_000);
    this.maintenance.unref();
  }

  async put(record: TokenRecord, opts: PutOptions = {}): Promise<void> {
    const fields = encodeRecord(record);
    const maxExp = String(record.maxExpiresAt);
    const reply = await this.run(async (deadline) => {
      // Index first: a token key never exists without the index revoke(jti) needs.
      const indexed = await this.durably<string | null>(
        (c) => c.set(this.keys.identityOf(record.jti), record.identityId, 'PXAT', maxExp, 'NX'),
        (r) => r !== null,
      );
      if (indexed === null) return ['duplicate'];
      const r = await this.durably<unknown>((c) => c.certgatePut(
        this.keys.token(record.identityId, record.jti),
        this.keys.outstanding(record.identityId),
        maxExp,
        deadline,
        String(opts.maxOutstanding ?? 0),
        String(record.createdAt),
        String(record.expiresAt),
        record.jti,
        ...fields,
      ), scriptOk);
      // Nothing was created: the index must not claim the jti (it would expire anyway).
      if (!Array.isArray(r) || r[0] !== 'ok') await this.client.del(this.keys.identityOf(record.jti));
      return r;
    });
    const [status, earliest] = Array.isArray(reply) ? (reply as [unknown, unknown]) : [reply, undefined];
    if (status === 'ok') return;
    if (status === 'quota') throw quotaExceeded(Number(earliest) - record.createdAt);
    if (status === 'deadline') throw storeUnavailable();
    // jti collisions would silently reset uses or un-revoke a token; refuse (a bug, not an outage).
    if (status === 'duplicate') throw new Error(`token store: duplicate jti ${record.jti}`);
    throw new Error(`token store: unexpected put reply ${String(status)}`);
  }

  async check(jti: string, identityId: string, now: number, consume: boolean): Promise<StoreOutcome> {
    return outcome(await this.runCheck(jti, identityId, now, consume, '1'));
  }

  async checkState(jti: string, identityId: string, now: number, consume: boolean): Promise<StateOutcome> {
    const reply = await this.runCheck(jti, identityId, now, consume, '0');
    if (Array.isArray(reply) && reply[0] === 'ok') return { ok: true, state: { expiresAt: Number(reply[1]), usesRemaining: Number(reply[2]) } };
    return outcome(reply) as StateOutcome; // a refusal or an outage: no record in it
  }

  private runCheck(jti: string, identityId: string, now: number, consume: boolean, whole: '0' | '1'): Promise<unknown> {
    // A lookup writes nothing: only a consuming check waits for replicas.
    return this.run((deadline) =>
      this.durably(
        (c) => c.certgateCheck(
          this.keys.token(identityId, jti),
          this.keys.revokedBefore(identityId),
          this.keys.outstanding(identityId),
          String(now),
          consume ? '1' : '0',
          deadline,
          jti,
          whole,
        ),
        scriptOk,
        consume,
      ),
    );
  }

  async renew(jti: string, identityId: string, now: number, newExpiresAt: number): Promise<StoreOutcome> {
    const reply = await this.run((deadline) =>
      this.durably(
        (c) => c.certgateRenew(
          this.keys.token(identityId, jti),
          this.keys.revokedBefore(identityId),
          this.keys.outstanding(identityId),
          String(now),
          String(Math.trunc(newExpiresAt)),
          deadline,
          jti,
        ),
        scriptOk,
      ),
    );
    return outcome(reply);
  }

  async hitRate(bucket: string, limit: number, windowMs: number, _now?: number): Promise<RateDecision> {
    assertRate(bucket, limit, windowMs);
    const [allowed, count, retryAfterMs] = await this.run(() => this.client.certgateRate(this.keys.rate(bucket), String(limit), String(windowMs)));
    return { allowed: allowed === 1, count, retryAfterMs };
  }

  async revoke(jti: string): Promise<boolean> {
    return this.run(async () => {
      const identityId = await this.client.get(this.keys.identityOf(jti));
      if (identityId === null) return false;
      const revoked = await this.durably<number>((c) => c.certgateRevoke(this.keys.token(identityId, jti), this.keys.outstanding(identityId), jti), (r) => r === 1);
      return revoked === 1;
    });
  }

  /**
   * `at` is ignored: the watermark is Redis TIME, taken inside the script, and tokens are compared
   * by the Redis TIME their put stamped (serverCreatedAt), so the clocks of the gateway that issued
   * a token and of the host that revokes do not have to agree. See TokenStore.revokeIdentity.
   */
  async revokeIdentity(identityId: string, _at?: number): Promise<void> {
    await this.run(() => this.durably((c) => c.certgateRevokeIdentity(this.keys.revokedBefore(identityId), this.keys.outstanding(identityId))));
  }

  /**
   * Two atomic steps sent together, one per hash tag (different slots under Redis Cluster): the
   * certificate's hash gets the token, and its issuer + serial set the certificate, each reading the
   * marker of its own form in the same step. Why that leaves no gap against revokeCertificate:
   * - by SHA-256: the revoke writes the sha marker, then reads the hash. Our step ran before the
   *   marker (the revoke then reads our token field, and the token exists: put came first) or after
   *   it (we see the marker).
   * - by issuer + serial: the revoke writes the serial marker, reads the set, writes the sha marker
   *   of EVERY certificate in the set, then reads their hashes. Our serial step ran after the serial
   *   marker (we see it) or before it: our sha is in the set the revoke reads, so its sha marker is
   *   written, and our hash step is ordered against that marker as in the first case.
   */
  async indexToken(cert: CertificateInfo, token: Pick<TokenRecord, 'identityId' | 'jti' | 'maxExpiresAt'>, _now?: number): Promise<{ certificateRevoked: boolean }> {
    const at = String(token.maxExpiresAt);
    const fields = ['issuer', cert.issuer, 'serial', cert.serial, 'notAfter', String(cert.notAfter), 'path', JSON.stringify(cert.path), `tok:${token.identityId}:${token.jti}`, '1'];
    const [bySha, bySerial] = await this.run(() =>
      Promise.all([
        this.durably<number>((c) => c.certgateIndexCheck(this.keys.cert(cert.sha256), this.keys.revokedCert(cert.sha256), at, 'HSET', ...fields)),
        this.durably<number>((c) => c.certgateIndexCheck(this.keys.certBySerial(cert.issuer, cert.serial), this.keys.revokedSerial(cert.issuer, cert.serial), at, 'SADD', cert.sha256)),
      ]),
    );
    return { certificateRevoked: Number(bySha) + Number(bySerial) > 0 };
  }

  async certificate(sha256: string): Promise<CertificateInfo | undefined> {
    return this.run(async () => certInfo(sha256, await this.client.hgetall(this.keys.cert(sha256)))?.info);
  }

  /**
   * Order, against a login that puts its token and then indexes it while reading the markers (see
   * indexToken): the marker of the selector's own form is written FIRST, then the index is read. A
   * login that read no marker indexed before that write, so this read sees its entry, and its token
   * (put before) is revoked here. With onlyKnown (a CRL) there is no first marker: a login racing
   * the very moment a CRL is first read may keep its token; the CRL check at its next login or
   * renew refuses it.
   */
  async revokeCertificate(sel: CertificateSelector, opts: RevokeCertificateOptions): Promise<RevokeCertificateResult> {
    const bySerial = sel.issuer !== undefined && sel.serial !== undefined ? { issuer: sel.issuer, serial: sel.serial } : undefined;
    let marked = false;
    const mark = async (key: string, until: number) => {
      if (until <= opts.now) return;
      await this.durably((c) => c.certgateExtend(key, String(until), 'SET', '1', 'KEEPTTL'));
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
      if (bySerial) {
        const inSet = await this.client.smembers(this.keys.certBySerial(bySerial.issuer, bySerial.serial));
        for (const sha of inSet) shas.add(sha);
        // Every certificate of the pair gets its sha marker BEFORE its hash is read: a login indexes
        // the hash and the set in two steps sent together (see indexToken), so its hash step may
        // follow our read of the set; it must then see a marker.
        if (!opts.onlyKnown) {
          const pending = Math.min(opts.defaultUntil, opts.now + PENDING_MARKER_MS);
          await Promise.all(inSet.filter((sha) => sha !== sel.sha256).map((sha) => mark(this.keys.revokedCert(sha), pending)));
        }
      }
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
        known.flatMap((k) => k.tokens.map(({ identityId, jti }) => this.durably<number>((c) => c.certgateRevokeLive(this.keys.token(identityId, jti), this.keys.outstanding(identityId), jti), (r) => Number(r) === 1))),
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

  async putIdentity(id: string, doc: string): Promise<boolean> {
    return (await this.run(() => this.durably((c) => c.certgateIdentityPut(this.keys.identities, this.keys.identitiesVersion, id, doc)))) === 1;
  }

  async deleteIdentity(id: string): Promise<boolean> {
    return (await this.run(() => this.durably((c) => c.certgateIdentityDelete(this.keys.identities, this.keys.identitiesVersion, id)))) === 1;
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

  /**
   * Re-reads, on every master, Redis's clock (the deadline's offset) and its maxmemory-policy.
   * Never throws: a node that does not answer keeps its last verdict (an outage is reported by the
   * operations themselves).
   */
  private async maintain(onPolicy?: (v: PolicyVerdict) => void): Promise<void> {
    const masters = this.masters();
    await this.clock.sync(masters.map((m) => () => m.client.time()));
    for (const m of masters) {
      let reply: unknown;
      try {
        reply = await m.client.config('GET', 'maxmemory-policy');
      } catch (e) {
        // The server answered with an error (CONFIG renamed, disabled, or denied by ACL): it cannot
        // be verified. Anything else is an outage, not a verdict.
        if ((e as Error).name !== 'ReplyError') continue;
        reply = e;
      }
      const verdict = judgePolicy(m.name, reply);
      if (this.verdicts.get(m.name) !== verdict.status) {
        this.verdicts.set(m.name, verdict.status);
        onPolicy?.(verdict);
      }
      if (verdict.status === 'misconfigured') this.misconfiguredNodes.set(m.name, verdict.message);
      else this.misconfiguredNodes.delete(m.name);
    }
    this.misconfigured = this.misconfiguredNodes.values().next().value;
  }

  private masters(): Array<{ name: string; client: Redis }> {
    const c = this.client as Redis | Cluster;
    const nodes = c instanceof Cluster ? c.nodes('master') : [c];
    return nodes.map((n) => ({ name: `${n.options.host}:${n.options.port}`, client: n }));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.maintenance);
    // disconnect(), not quit(): quit waits for a reply that never comes while Redis is down.
    this.client.disconnect();
  }

  /**
   * Sends a write; with `store.waitReplicas`, in one pipeline with WAIT (redis-wait.ts), refusing
   * 503 when `mustAck(reply)` and too few replicas acknowledged. `waitFor` false skips WAIT
   * (a lookup). Without waitReplicas the write goes out exactly as before: no pipeline, no cost.
   */
  private durably<T>(write: (c: Scripts & ScriptTarget) => unknown, mustAck: (reply: T) => boolean = () => true, waitFor = true): Promise<T> {
    if (!this.wait || !waitFor) return write(this.client) as Promise<T>;
    return writeAndWait<T>(this.client, this.wait, (p) => write(p as unknown as Scripts & ScriptTarget), mustAck);
  }

  /**
   * Every outage — refused connection, timeout, closed socket, server error — becomes
   * store_unavailable, within 2 × commandTimeoutMs whatever ioredis does internally (EVALSHA →
   * EVAL fallback and cluster redirections may each take a command timeout).
   * `op` is handed the Redis-time deadline for its scripts (lua/deadline.lua), taken before any
   * command is sent: every command's own timeout, and the 2× bound, end later than it.
   */
  private async run<T>(op: (deadline: string) => Promise<T>): Promise<T> {
    if (this.closed) throw storeUnavailable('token store closed');
    if (this.misconfigured) throw storeMisconfigured(this.misconfigured);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('operation deadline exceeded')), 2 * this.commandTimeoutMs);
    });
    try {
      // Only before the very first connection do we wait for it (a gateway starting up); after
      // that a disconnected client rejects at once instead of queueing.
      const work = (async () => {
        if (!this.everReady) await this.firstReady;
        if (this.misconfigured) throw storeMisconfigured(this.misconfigured);
        return op(this.clock.deadline(this.commandTimeoutMs - deadlineMargin(this.commandTimeoutMs)));
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

/** What durably() hands its write: the client itself, or a pipeline on it (same method names). */
type ScriptTarget = Pick<Redis, 'set'>;

/** A token script changed something only when it answered {'ok', …}; refusals wrote nothing. */
const scriptOk = (reply: unknown) => Array.isArray(reply) && reply[0] === 'ok';

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

/** Script reply → StoreOutcome: {reason} or {'ok', HGETALL}; {'deadline'} is an outage (503). */
function outcome(reply: unknown): StoreOutcome {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error('token store: unexpected script reply');
  const [status, fields] = reply as [string, unknown];
  if (status === 'ok') return { ok: true, record: decodeRecord(fields) };
  if (status === 'deadline') throw storeUnavailable();
  if ((TOKEN_REFUSALS as readonly string[]).includes(status)) return { ok: false, reason: status as TokenRefusal };
  throw new Error(`token store: unexpected script status ${status}`);
}
