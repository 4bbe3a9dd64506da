import { Cluster, type Redis } from 'ioredis';
import { CertgateError, storeMisconfigured, storeUnavailable } from '../errors.js';
import { addressRateLimited, assertRate, identityRateLimited, quotaExceeded } from './limits.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { RedisClock } from './redis-clock.js';
import { WrittenCertificateIndex } from './written-index.js';
import { DirectWriteBatch } from './write-batch.js';
import { connectRedis, type RedisTarget } from './redis-connection.js';
import { redisKeys, TOKEN_SHARDS, tokenShard } from './redis-keys.js';
import { judgePolicy, type PolicyVerdict } from './redis-policy.js';
import { callScript, defineScripts, sendHotScript, type HotScript, type Scripts } from './redis-scripts.js';
import { writeAndWait, type ReplicaWait } from './redis-wait.js';
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

/** How long a revoke's first marker lasts before the revoke sets its real end (the same call, moments later). */
const PENDING_MARKER_MS = 10 * 60_000;
const TOKEN_FIELD = /^tok:([^:]+):(.+)$/;


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
  /** Certificates whose index hash this store wrote in full (see login.lua: sent once, not at every login). */
  private readonly indexed = new WrittenCertificateIndex();
  private readonly directWrites: DirectWriteBatch;

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
    defineScripts(client);
    this.client = client as (Redis | Cluster) & Scripts;
    this.directWrites = new DirectWriteBatch(client);
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
    const id = record.identityId;
    const home = this.homeArgs(record, opts);
    const address = opts.addressRate;
    // Another slot than the identity's: its own round trip, first (see PutOptions.addressRate).
    if (address) {
      const d = await this.hitRate(address.bucket, address.limit, address.windowMs);
      if (!d.allowed) throw addressRateLimited(d.retryAfterMs);
    }
    const reply = await this.run(async (deadline) => {
      // Home slot first (rate, quota, count, stamp): a token never exists uncounted.
      const h = await this.durably<unknown>((c) => c.certgatePutHome(home.keys[0], home.keys[1], home.keys[2], deadline, ...home.args), scriptOk);
      if (!scriptOk(h)) return h;
      const stamp = String((h as unknown[])[1]);
      // If this fails the home entry over-counts until the token's expiry (errs toward refusing).
      return this.durably<unknown>((c) => c.certgatePut(this.keys.token(id, record.jti), maxExp, deadline, stamp, ...fields), scriptOk);
    });
    putOutcome(reply, record);
  }

  /**
   * put, then indexToken. Where one server holds every key (a single Redis, Sentinel) that is ONE
   * script (login.lua): one round trip for a login's writes instead of three, with nothing able to
   * come between the steps. Under Cluster the keys hash to different slots, so the two calls run
   * as they are, in this order (their guarantees are stated on each).
   */
  async putAndIndex(record: TokenRecord, cert: CertificateInfo, opts: PutOptions, now: number): Promise<{ certificateRevoked: boolean }> {
    if (this.client instanceof Cluster) {
      await this.put(record, opts);
      return this.indexToken(cert, record, now);
    }
    const home = this.homeArgs(record, opts);
    const address = opts.addressRate;
    if (address) assertRate(address.bucket, address.limit, address.windowMs);
    const member = certTokenMember(record);
    const fields = encodeRecord(record);
    // `index`: the certificate's own hash fields, or none when this gateway wrote them before.
    const login = (index: string[]) =>
      this.run((deadline) =>
        this.durably<unknown>((c) => this.directWrites.held(() => this.hot(c, 'certgateLogin', [
          ...home.keys,
          this.keys.token(record.identityId, record.jti),
          this.keys.cert(cert.sha256),
          this.keys.revokedCert(cert.sha256),
          this.keys.certBySerial(cert.issuer, cert.serial),
          this.keys.revokedSerial(cert.issuer, cert.serial),
          this.keys.rate(address?.bucket ?? 'none'),
          this.keys.certTokens(cert.sha256),
          deadline,
          ...home.args,
          String(address?.limit ?? 0),
          String(address?.windowMs ?? 0),
          cert.sha256,
          String(index.length),
          ...index,
          member,
          ...fields,
        ])), scriptOk),
      );
    let reply = this.indexed.holds(cert, now) ? await login([]) : undefined;
    // Not sent because this gateway wrote them before, but gone from Redis: nothing was written.
    if (reply === undefined || (reply as unknown[])[0] === 'index') reply = await login(certStaticFields(cert));
    putOutcome(reply, record);
    this.indexed.wrote(cert, record.maxExpiresAt);
    return { certificateRevoked: Number((reply as unknown[])[1]) > 0 };
  }

  /** The home step's keys and its arguments after the deadline (put-home.lua's ARGV[2..8]). */
  private homeArgs(record: TokenRecord, opts: PutOptions): { keys: [string, string, string]; args: string[] } {
    const rate = opts.identityRate;
    if (rate) assertRate(`identity:${record.identityId}`, rate.limit, rate.windowMs);
    const id = record.identityId;
    return {
      keys: [this.keys.outstanding(id), this.keys.revoking(id), this.keys.loginRate(id)],
      args: [
        String(opts.maxOutstanding ?? 0),
        String(record.createdAt),
        String(record.expiresAt),
        String(record.maxExpiresAt),
        record.jti,
        String(rate?.limit ?? 0),
        String(rate?.windowMs ?? 0),
      ],
    };
  }


  async check(jti: string, identityId: string, now: number, consume: boolean): Promise<StoreOutcome> {
    return outcome(await this.runCheck(jti, identityId, now, consume, '1'));
  }

  async checkState(jti: string, identityId: string, now: number, consume: boolean): Promise<StateOutcome> {
    const reply = await this.runCheck(jti, identityId, now, consume, '0');
    if (Array.isArray(reply) && reply[0] === 'ok') return { ok: true, state: { expiresAt: Number(reply[2]), usesRemaining: Number(reply[3]) } };
    return outcome(reply) as StateOutcome; // a refusal or an outage: no record in it
  }

  private runCheck(jti: string, identityId: string, now: number, consume: boolean, whole: '0' | '1'): Promise<unknown> {
    // A lookup writes nothing: only a consuming check waits for replicas.
    return this.run(async (deadline) => {
      const r = await this.onToken(identityId, jti, (token, watermark) =>
        this.durably((c) => this.directWrites.held(() => this.hot(c, 'certgateCheck', [token, watermark, String(now), consume ? '1' : '0', deadline, whole])), scriptOk, consume),
      );
      // The last use: no longer outstanding (home slot, after the token: until then it over-counts).
      if (scriptOk(r) && (r as unknown[])[whole === '1' ? 2 : 1] === 1) await this.forget(identityId, jti);
      return r;
    });
  }

  async renew(jti: string, identityId: string, now: number, newExpiresAt: number): Promise<StoreOutcome> {
    const target = String(Math.trunc(newExpiresAt));
    const reply = await this.run(async (deadline) => {
      // Home first: the count follows the renewal before the token does (see redisKeys).
      await this.durably((c) => c.certgateRenewHome(this.keys.outstanding(identityId), this.keys.revoking(identityId), jti, target, String(now)));
      return this.onToken(identityId, jti, (token, watermark) =>
        this.durably((c) => c.certgateRenew(token, watermark, String(now), target, deadline), scriptOk),
      );
    });
    return outcome(reply);
  }

  async hitRate(bucket: string, limit: number, windowMs: number, _now?: number): Promise<RateDecision> {
    assertRate(bucket, limit, windowMs);
    const [allowed, count, retryAfterMs] = await this.run(() => this.client.certgateRate(this.keys.rate(bucket), String(limit), String(windowMs)));
    return { allowed: allowed === 1, count, retryAfterMs };
  }

  /** `identityId` is the verified token's `sub`: it names the token's key (there is no jti index). */
  async revoke(jti: string, identityId: string): Promise<boolean> {
    return this.run(async () => (await this.revokeToken(identityId, jti)) > 0);
  }

  /**
   * `at` is ignored: the watermarks are a Redis TIME stamp taken inside the home script, and tokens
   * are compared by the stamp their put took from the same clock (serverCreatedAt), so the clocks
   * of the gateway that issued a token and of the host that revokes do not have to agree. Exact:
   * see redisKeys. Reports success only once every shard's watermark is raised.
   */
  async revokeIdentity(identityId: string, _at?: number): Promise<void> {
    const revoking = this.keys.revoking(identityId);
    const revokingStamp = this.keys.revokingStamp(identityId);
    await this.run(async () => {
      const stamp = String(await this.durably<string>((c) => c.certgateRevokeIdentity(this.keys.legacyRevokedBefore(identityId), this.keys.outstanding(identityId), revoking, revokingStamp)));
      await Promise.all(Array.from({ length: TOKEN_SHARDS }, (_, shard) => this.durably((c) => c.certgateRaiseWatermark(this.keys.revokedBefore(identityId, shard), stamp))));
      // Every token it moved aside is now refused everywhere: they stop counting. If this fails the
      // revoke-all has still happened; the moved set over-counts until a later revoke-all or its expiry.
      await this.client.certgateRevokeIdentityDone(revoking, revokingStamp, stamp).catch(() => undefined);
    });
  }

  /**
   * Two atomic steps sent together, one per hash tag (different slots under Redis Cluster): the
   * certificate's hash gets the token, and its issuer + serial set the certificate, each reading the
   * marker of its own form in the same step. Why that leaves no gap against revokeCertificate:
   * - by SHA-256: the revoke writes the sha marker, then reads the index. Our step ran before the
   *   marker (the revoke then reads our token in the set, and the token exists: put came first) or
   *   after it (we see the marker).
   * - by issuer + serial: the revoke writes the serial marker, reads the set, writes the sha marker
   *   of EVERY certificate in the set, then reads their hashes. Our serial step ran after the serial
   *   marker (we see it) or before it: our sha is in the set the revoke reads, so its sha marker is
   *   written, and our hash step is ordered against that marker as in the first case.
   */
  async indexToken(cert: CertificateInfo, token: Pick<TokenRecord, 'identityId' | 'jti' | 'maxExpiresAt'>, _now?: number): Promise<{ certificateRevoked: boolean }> {
    const at = String(token.maxExpiresAt);
    const [bySha, bySerial] = await this.run(() =>
      Promise.all([
        this.durably<number>((c) => c.certgateIndexCert(this.keys.cert(cert.sha256), this.keys.certTokens(cert.sha256), this.keys.revokedCert(cert.sha256), at, certTokenMember(token), ...certStaticFields(cert))),
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
      const known = (await Promise.all([...shas].map((sha) => this.certIndex(sha)))).filter((c) => c !== undefined);
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
        known.flatMap((k) => k.tokens.map(({ identityId, jti }) => this.revokeToken(identityId, jti))),
      );
      return { tokens: revoked.filter((r) => r === 1).length, certificates: infos, marked };
    });
  }

  /**
   * A certificate's index: its fields and every token it may still have — the token set, plus the
   * token fields of the previous layout's hash. Both keys share a hash tag: one slot, read together.
   */
  private async certIndex(sha256: string): Promise<{ info: CertificateInfo; tokens: { identityId: string; jti: string }[] } | undefined> {
    const [hash, members] = await Promise.all([this.client.hgetall(this.keys.cert(sha256)), this.client.zrange(this.keys.certTokens(sha256), '0', '-1')]);
    const known = certInfo(sha256, hash);
    if (!known) return undefined;
    for (const member of members) {
      const colon = member.indexOf(':');
      if (colon > 0) known.tokens.push({ identityId: member.slice(0, colon), jti: member.slice(colon + 1) });
    }
    return known;
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
   * Runs a token script on the token's key and its shard's watermark; on not_found, once more on
   * the previous layout's key and watermark (a token issued before the upgrade, until it expires).
   */
  private async onToken(identityId: string, jti: string, op: (token: string, watermark: string) => Promise<unknown>): Promise<unknown> {
    const reply = await op(this.keys.token(identityId, jti), this.keys.revokedBefore(identityId, tokenShard(jti)));
    if (!Array.isArray(reply) || reply[0] !== 'not_found') return reply;
    return op(this.keys.legacyToken(identityId, jti), this.keys.legacyRevokedBefore(identityId));
  }

  /**
   * Marks a token revoked (either layout), then removes it from the identity's outstanding set.
   * 0 = no such token, 1 = revoked by this call, 2 = already revoked.
   */
  private async revokeToken(identityId: string, jti: string): Promise<number> {
    const once = (key: string) => this.durably<number>((c) => c.certgateRevokeToken(key), (r) => Number(r) === 1).then(Number);
    let r = await once(this.keys.token(identityId, jti));
    if (r === 0) r = await once(this.keys.legacyToken(identityId, jti));
    if (r !== 0) await this.forget(identityId, jti);
    return r;
  }

  /**
   * Removes a token that is no longer outstanding from the identity's sets (home slot). Its own
   * change has already happened and is answered as such: if this fails the quota over-counts
   * the token until its expiry, it never under-counts. No WAIT: losing it only over-counts too.
   */
  private async forget(identityId: string, jti: string): Promise<void> {
    await this.client.certgateForget(this.keys.outstanding(identityId), this.keys.revoking(identityId), jti).catch(() => undefined);
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
   * A hot script (the login, the bearer check): on the single-server client itself, as a bare
   * EVALSHA (sendHotScript); in a WAIT pipeline or on a Cluster, as its custom command.
   */
  private hot(c: unknown, name: HotScript, args: string[]): Promise<unknown> {
    if (c === this.client && !(this.client instanceof Cluster)) return sendHotScript(this.client, name, args);
    return callScript(c, name, args);
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

/** put's (and putAndIndex's) reply: nothing for {'ok', …}, else its refusal or failure thrown. */
function putOutcome(reply: unknown, record: TokenRecord): void {
  const [status, detail] = Array.isArray(reply) ? (reply as [unknown, unknown]) : [reply, undefined];
  if (status === 'ok') return;
  if (status === 'address') throw addressRateLimited(Number(detail));
  if (status === 'rate') throw identityRateLimited(Number(detail));
  if (status === 'quota') throw quotaExceeded(Number(detail) - record.createdAt);
  if (status === 'deadline') throw storeUnavailable();
  // jti collisions would silently reset uses or un-revoke a token; refuse (a bug, not an outage).
  if (status === 'duplicate') throw new Error(`token store: duplicate jti ${record.jti}`);
  throw new Error(`token store: unexpected put reply ${String(status)}`);
}

/** The certificate's own fields of its index hash: the same at every login (for one path). */
function certStaticFields(cert: CertificateInfo): string[] {
  return ['issuer', cert.issuer, 'serial', cert.serial, 'notAfter', String(cert.notAfter), 'path', JSON.stringify(cert.path)];
}

/** One token in its certificate's token set (see redisKeys().certTokens). */
function certTokenMember(token: Pick<TokenRecord, 'identityId' | 'jti'>): string {
  return `${token.identityId}:${token.jti}`;
}

/** A token script changed something only when it answered {'ok', …}; refusals wrote nothing. */
const scriptOk = (reply: unknown) => Array.isArray(reply) && reply[0] === 'ok';

/** A certificate index hash (HGETALL) → its info and the previous layout's tokens; undefined when there is none. */
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
