import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import { TOKEN_SHARDS, tokenShard } from '../../src/store/redis-keys.js';
import { KEY_EXPIRY_SLACK_MS } from '../../src/store/redis-scripts.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { tokenStoreContract } from './contract.js';
import { legacyPut } from './legacy-layout.js';
import { legacyLayoutSuite } from './legacy-suite.js';
import { T0, limited, makeCert, makeRecord } from './fixtures.js';

let server: RedisServer;
/** A plain client, to look at (and tamper with) keys behind the store's back. */
let raw: Redis;

beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url);
});
afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});

const newStore = () => new RedisTokenStore({ url: server.url });

tokenStoreContract('redis', async () => {
  const store = newStore();
  return {
    store,
    raw: {
      deleteRecord: async (identityId, jti) => void (await raw.del(store.keys.token(identityId, jti))),
      recordExists: async (identityId, jti) => (await raw.exists(store.keys.token(identityId, jti))) === 1,
    },
  };
}, { revokeAllClock: 'store' });

{
  let store: RedisTokenStore;
  beforeAll(() => void (store = newStore()));
  afterAll(() => store?.close());
  legacyLayoutSuite('redis', () => ({ store, raw }));
}

/** Calls of one command (lower case) the server has answered since the last CONFIG RESETSTAT, in scripts or not. */
async function commandCalls(name: string): Promise<number> {
  const info = await raw.info('commandstats');
  return Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

/** EVAL + EVALSHA calls the server has answered since the last CONFIG RESETSTAT. */
async function scriptCalls(): Promise<number> {
  const info = await raw.info('commandstats');
  return [...info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('RedisTokenStore on a real redis-server', () => {
  it('sends a check of a current token as ONE script; only a miss looks for the previous layout', async () => {
    const store = newStore();
    const current = makeRecord();
    const old = makeRecord();
    await store.put(current);
    await legacyPut(raw, old);
    await raw.config('RESETSTAT');
    expect((await store.check(current.jti, current.identityId, T0, true)).ok).toBe(true);
    expect(await scriptCalls()).toBe(1);
    await raw.config('RESETSTAT');
    expect((await store.check(old.jti, old.identityId, T0, true)).ok).toBe(true);
    expect(await scriptCalls()).toBe(2);
    await store.close();
  });

  it('sends the bearer checks issued in one turn of the event loop in ONE socket write, each still its own script', async () => {
    const store = newStore();
    await store.ping();
    const records = Array.from({ length: 10 }, () => makeRecord());
    for (const r of records) await store.put(r);
    const socket = (store as unknown as { client: { stream: import('node:net').Socket } }).client.stream;
    const writes: number[] = [];
    const writev = socket._writev!.bind(socket);
    const write = socket._write.bind(socket);
    socket._writev = (chunks, cb) => void (writes.push(chunks.length), writev(chunks, cb));
    socket._write = (chunk, enc, cb) => void (writes.push(1), write(chunk, enc, cb));
    await raw.config('RESETSTAT');
    const outcomes = await Promise.all(records.map((r) => store.check(r.jti, r.identityId, T0, true)));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(writes).toEqual([10]);
    expect(await scriptCalls()).toBe(10);
    // A check alone is written at once, too (no batch waits for company).
    writes.length = 0;
    expect((await store.check(records[0]!.jti, records[0]!.identityId, T0, false)).ok).toBe(true);
    expect(writes).toEqual([1]);
    await store.close();
  });

  it('does a login\'s writes (rate, quota, token, certificate index and markers) in ONE script on one server', async () => {
    const store = newStore();
    await store.ping();
    const cert = makeCert();
    const rec = makeRecord({ certSha256: cert.sha256 });
    await raw.config('RESETSTAT');
    expect(await store.putAndIndex(rec, cert, { maxOutstanding: 5, identityRate: { limit: 5, windowMs: 60_000 } }, T0)).toEqual({ certificateRevoked: false });
    expect(await scriptCalls()).toBe(1);
    expect(await raw.zscore(store.keys.certTokens(cert.sha256), `${rec.identityId}:${rec.jti}`)).toBe(String(rec.maxExpiresAt));
    expect(await raw.pexpiretime(store.keys.token(rec.identityId, rec.jti))).toBe(rec.maxExpiresAt);
    expect(await raw.zscore(store.keys.outstanding(rec.identityId), rec.jti)).toBe(String(rec.expiresAt));
    await store.close();
  });

  it('sends a certificate\'s own index fields at its first login only, and in full again when Redis lost them', async () => {
    const store = newStore();
    await store.ping();
    const cert = makeCert();
    const key = store.keys.cert(cert.sha256);
    const login = async () => {
      const rec = makeRecord({ identityId: 'written-index', certSha256: cert.sha256 });
      await store.putAndIndex(rec, cert, { maxOutstanding: 10 }, T0);
      return rec;
    };
    await login();
    expect(await store.certificate(cert.sha256)).toEqual(cert);
    // Changed behind the store's back: a login that sent the fields again would overwrite it.
    await raw.hset(key, 'notAfter', '1');
    await raw.config('RESETSTAT');
    const second = await login();
    expect(await scriptCalls()).toBe(1);
    expect(await raw.hget(key, 'notAfter')).toBe('1');
    expect(await raw.zscore(store.keys.certTokens(cert.sha256), `written-index:${second.jti}`)).toBe(String(second.maxExpiresAt));
    // Lost (a flush, a restart without persistence): the first try writes nothing, the second all.
    await raw.del(key);
    await raw.config('RESETSTAT');
    const third = await login();
    expect(await scriptCalls()).toBe(2);
    expect(await store.certificate(cert.sha256)).toEqual(cert);
    expect(await raw.zscore(store.keys.certTokens(cert.sha256), `written-index:${third.jti}`)).toBe(String(third.maxExpiresAt));
    // Three tokens counted, none twice: the refused try counted nothing.
    expect(await raw.zcard(store.keys.outstanding('written-index'))).toBe(3);
    // Another verified path for the same certificate is written in full.
    const other = { ...cert, path: [cert.path[0]!, 'b3RoZXI='] };
    await store.putAndIndex(makeRecord({ identityId: 'written-index', certSha256: cert.sha256 }), other, {}, T0);
    expect(await store.certificate(cert.sha256)).toEqual(other);
    await store.close();
  });

  it('adds a certificate to its issuer + serial set at its first login; later logins only move the set\'s expiry, and add it again to a set Redis lost', async () => {
    const store = newStore();
    await store.ping();
    const cert = makeCert();
    const set = store.keys.certBySerial(cert.issuer, cert.serial);
    let cap = T0 + 600_000;
    const login = async () => {
      cap += 1000;
      const rec = makeRecord({ identityId: 'serial-set', certSha256: cert.sha256, maxExpiresAt: cap });
      await store.putAndIndex(rec, cert, {}, T0);
      return rec;
    };
    await login();
    expect(await raw.smembers(set)).toEqual([cert.sha256]);
    await raw.config('RESETSTAT');
    const warm = await login();
    expect([await commandCalls('sadd'), await commandCalls('hexists')]).toEqual([0, 0]);
    expect(await raw.smembers(set)).toEqual([cert.sha256]);
    // The first login set the set's expiry a minute past its token's cap (KEY_EXPIRY_SLACK_MS), so
    // this one, a second later, did not have to move it.
    expect(await raw.pexpiretime(set)).toBe(warm.maxExpiresAt - 1000 + KEY_EXPIRY_SLACK_MS);
    expect(await raw.pexpiretime(store.keys.cert(cert.sha256))).toBe(warm.maxExpiresAt - 1000 + KEY_EXPIRY_SLACK_MS);
    await raw.del(set);
    const afterLoss = await login();
    expect(await raw.smembers(set)).toEqual([cert.sha256]);
    expect(await raw.pexpiretime(set)).toBe(afterLoss.maxExpiresAt + KEY_EXPIRY_SLACK_MS);
    // The pair leads a revoke by issuer and serial (a CRL) to the tokens of every login.
    const result = await store.revokeCertificate({ issuer: cert.issuer, serial: cert.serial }, { now: Date.now(), defaultUntil: T0 + 86_400_000 });
    expect(result.tokens).toBe(3);
    for (const r of [warm, afterLoss]) expect(await store.check(r.jti, r.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    await store.close();
  });

  it('moves the expiry of a certificate\'s index and its identity\'s set a minute past the cap, so the logins of that minute only set their token\'s', async () => {
    const store = newStore();
    await store.ping();
    const cert = makeCert();
    const shared = [store.keys.cert(cert.sha256), store.keys.certTokens(cert.sha256), store.keys.certBySerial(cert.issuer, cert.serial), store.keys.outstanding('slack')];
    const login = async (maxExpiresAt: number) => {
      const rec = makeRecord({ identityId: 'slack', certSha256: cert.sha256, maxExpiresAt });
      await store.putAndIndex(rec, cert, { maxOutstanding: 100 }, T0);
      return rec;
    };
    const cap = T0 + 600_000;
    await login(cap);
    for (const key of shared) expect(await raw.pexpiretime(key)).toBe(cap + KEY_EXPIRY_SLACK_MS);
    // Within the minute: only the token's own hash gets an expiry (exactly its cap).
    await raw.config('RESETSTAT');
    const warm = await login(cap + KEY_EXPIRY_SLACK_MS - 1);
    expect(await commandCalls('pexpireat')).toBe(1);
    expect(await raw.pexpiretime(store.keys.token('slack', warm.jti))).toBe(warm.maxExpiresAt);
    for (const key of shared) expect(await raw.pexpiretime(key)).toBe(cap + KEY_EXPIRY_SLACK_MS);
    // Past it: every shared key moves again, never to less than the new token's cap.
    await raw.config('RESETSTAT');
    const later = await login(cap + KEY_EXPIRY_SLACK_MS + 1);
    expect(await commandCalls('pexpireat')).toBe(1 + shared.length);
    for (const key of shared) expect(await raw.pexpiretime(key)).toBe(later.maxExpiresAt + KEY_EXPIRY_SLACK_MS);
    await store.close();
  });

  it('keeps only the tokens that can still be used in a certificate\'s token set, and still revokes the previous layout\'s', async () => {
    const store = newStore();
    const cert = makeCert();
    // Indexed by the previous version: one hash field per token, never trimmed.
    const old = makeRecord({ certSha256: cert.sha256 });
    await store.put(old);
    await raw.hset(store.keys.cert(cert.sha256), 'issuer', cert.issuer, 'serial', cert.serial, 'notAfter', String(cert.notAfter), 'path', JSON.stringify(cert.path), `tok:${old.identityId}:${old.jti}`, '1');
    // A token whose cap has passed (by Redis's clock) is dropped by the next login of the certificate.
    const live = [makeRecord({ certSha256: cert.sha256 }), makeRecord({ certSha256: cert.sha256 })];
    const capped = makeRecord({ certSha256: cert.sha256, createdAt: T0 - 10_000, expiresAt: T0 - 5_000, maxExpiresAt: Date.now() - 1_000 });
    await store.putAndIndex(live[0]!, cert, {}, T0);
    await store.putAndIndex(capped, cert, {}, T0);
    expect(await raw.zcard(store.keys.certTokens(cert.sha256))).toBe(2);
    await store.indexToken(cert, live[1]!, T0); // Cluster's way: the same set
    expect((await raw.zrange(store.keys.certTokens(cert.sha256), '0', '-1')).sort()).toEqual(live.map((r) => `${r.identityId}:${r.jti}`).sort());
    expect(await raw.pexpiretime(store.keys.certTokens(cert.sha256))).toBe(Math.max(...live.map((r) => r.maxExpiresAt)) + KEY_EXPIRY_SLACK_MS);
    await store.put(live[1]!);
    const result = await store.revokeCertificate({ sha256: cert.sha256 }, { now: Date.now(), defaultUntil: T0 + 86_400_000 });
    expect(result.tokens).toBe(3);
    for (const r of [old, ...live]) expect((await store.check(r.jti, r.identityId, T0, false)).ok).toBe(false);
    await store.close();
  });

  it('puts a login\'s token in two scripts: the identity\'s rate, quota and count, then the token', async () => {
    const store = newStore();
    await store.ping();
    await raw.config('RESETSTAT');
    const rec = makeRecord();
    await store.put(rec, { maxOutstanding: 5, identityRate: { limit: 5, windowMs: 60_000 } });
    expect(await scriptCalls()).toBe(2);
    expect(await raw.exists(`certgate:token-identity:${rec.jti}`)).toBe(0);
    await store.close();
  });

  it('lets Redis drop the record itself at maxExpiresAt (key expiry = the hard cap)', async () => {
    const store = newStore();
    const rec = makeRecord();
    await store.put(rec);
    expect(await raw.pexpiretime(store.keys.token(rec.identityId, rec.jti))).toBe(rec.maxExpiresAt);
    // No jti → identity index any more (revoke is given the identity).
    expect(await raw.exists(`certgate:token-identity:${rec.jti}`)).toBe(0);
    await store.close();
  });

  it('keeps a certificate\'s index until its longest token\'s cap (plus the slack), and its markers until its notAfter', async () => {
    const store = newStore();
    const cert = makeCert({ notAfter: T0 + 5 * 3_600_000 });
    const long = makeRecord({ maxExpiresAt: T0 + 3_600_000 });
    const short = makeRecord({ maxExpiresAt: T0 + 600_000 });
    for (const r of [long, short]) await store.indexToken(cert, r, T0);
    // A later, shorter token must not shorten the index.
    expect(await raw.pexpiretime(store.keys.cert(cert.sha256))).toBe(long.maxExpiresAt + KEY_EXPIRY_SLACK_MS);
    expect(await raw.pexpiretime(store.keys.certBySerial(cert.issuer, cert.serial))).toBe(long.maxExpiresAt + KEY_EXPIRY_SLACK_MS);
    await store.revokeCertificate({ sha256: cert.sha256 }, { now: Date.now(), defaultUntil: T0 + 86_400_000 });
    expect(await raw.pexpiretime(store.keys.revokedCert(cert.sha256))).toBe(cert.notAfter);
    expect(await raw.pexpiretime(store.keys.revokedSerial(cert.issuer, cert.serial))).toBe(cert.notAfter);
    // A certificate never seen: the default end.
    const unseen = makeCert();
    await store.revokeCertificate({ sha256: unseen.sha256 }, { now: Date.now(), defaultUntil: T0 + 86_400_000 });
    expect(await raw.pexpiretime(store.keys.revokedCert(unseen.sha256))).toBe(T0 + 86_400_000);
    await store.close();
  });

  it('a revoke by issuer and serial marks the SHA-256 of a certificate whose login had indexed only the pair so far', async () => {
    // The login's two index steps go out together and may land on either side of a revoke: here the
    // pair step ran before the revoke and the certificate-hash step after it. That step must see a marker.
    const store = newStore();
    const cert = makeCert();
    await raw.sadd(store.keys.certBySerial(cert.issuer, cert.serial), cert.sha256);
    await store.revokeCertificate({ issuer: cert.issuer, serial: cert.serial }, { now: Date.now(), defaultUntil: T0 + 86_400_000 });
    expect(await store.isCertificateRevoked({ sha256: cert.sha256 }, T0)).toBe(true);
    await store.close();
  });

  it('shares one use budget between two gateways racing on the same token', async () => {
    const [a, b] = [newStore(), newStore()];
    const rec = limited(5);
    await a.put(rec);
    const calls = Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).check(rec.jti, rec.identityId, T0, true));
    expect((await Promise.all(calls)).filter((r) => r.ok)).toHaveLength(5);
    await Promise.all([a.close(), b.close()]);
  });

  it('makes a revocation on one gateway visible on the other at once', async () => {
    const [a, b] = [newStore(), newStore()];
    const one = makeRecord();
    const all = makeRecord();
    await a.put(one);
    await a.put(all);
    await b.revoke(one.jti, one.identityId);
    await b.revokeIdentity(all.identityId, all.createdAt);
    expect(await a.check(one.jti, one.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    expect(await a.check(all.jti, all.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    await Promise.all([a.close(), b.close()]);
  });

  it('revoke-all holds when the issuing gateway\'s clock is an hour AHEAD of the revoking host', async () => {
    const [issuer, revoker] = [newStore(), newStore()];
    const now = Date.now();
    const rec = makeRecord({ createdAt: now + 3_600_000, expiresAt: now + 3_660_000, maxExpiresAt: now + 7_200_000 });
    await issuer.put(rec);
    await revoker.revokeIdentity(rec.identityId, now);
    // Compared by createdAt, the token would survive (now + 1 h > now); by Redis TIME it does not.
    expect(await issuer.check(rec.jti, rec.identityId, now, false)).toEqual({ ok: false, reason: 'revoked' });
    expect(await revoker.renew(rec.jti, rec.identityId, now, now + 60_000)).toEqual({ ok: false, reason: 'revoked' });
    await Promise.all([issuer.close(), revoker.close()]);
  });

  it('stamps serverCreatedAt and the watermark from Redis TIME, and never lowers the watermark', async () => {
    const store = newStore();
    const rec = makeRecord();
    const [sec, usec] = await raw.time();
    await store.put(rec);
    const tokenKey = store.keys.token(rec.identityId, rec.jti);
    const stamped = await raw.hget(tokenKey, 'serverCreatedAt');
    // Epoch ms with microsecond decimals, as a plain decimal string (never 1.7e+12).
    expect(stamped).toMatch(/^\d{13}\.\d{3}$/);
    expect(Number(stamped)).toBeGreaterThanOrEqual(Number(sec) * 1000 + Math.floor(Number(usec) / 1000));
    // The record handed back is the one put: serverCreatedAt stays internal.
    expect(await store.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: true, record: rec });

    await store.revokeIdentity(rec.identityId, 0);
    // One stamp, raised into every shard's watermark and the previous layout's.
    const shardKeys = Array.from({ length: TOKEN_SHARDS }, (_, s) => store.keys.revokedBefore(rec.identityId, s));
    const watermark = await raw.get(store.keys.revokedBefore(rec.identityId, tokenShard(rec.jti)));
    expect(watermark).toMatch(/^\d{13}\.\d{3}$/);
    expect(Number(watermark)).toBeGreaterThanOrEqual(Number(stamped));
    expect(new Set(await raw.mget(...shardKeys, store.keys.legacyRevokedBefore(rec.identityId)))).toEqual(new Set([watermark]));
    // 17 small strings per identity ever revoked-all, none with an expiry (docs/operations.md).
    expect(await raw.keys(`certgate:revoked-before:{${rec.identityId}*`)).toHaveLength(TOKEN_SHARDS + 1);
    for (const k of shardKeys) expect(await raw.pttl(k)).toBe(-1);
    // A watermark already ahead of Redis (written by an older version from a fast gateway clock) stays.
    const future = String(Date.now() + 86_400_000);
    await raw.set(store.keys.legacyRevokedBefore(rec.identityId), future);
    await raw.set(shardKeys[3]!, future);
    await store.revokeIdentity(rec.identityId, 0);
    expect(await raw.get(store.keys.legacyRevokedBefore(rec.identityId))).toBe(future);
    expect(await raw.get(shardKeys[3]!)).toBe(future);
    await store.close();
  });

  it('falls back to createdAt for a record written before serverCreatedAt existed', async () => {
    const store = newStore();
    const old = makeRecord({ createdAt: T0 - 1 });
    const newer = makeRecord({ identityId: old.identityId, createdAt: T0 + 1 });
    for (const r of [old, newer]) {
      await store.put(r);
      await raw.hdel(store.keys.token(r.identityId, r.jti), 'serverCreatedAt');
    }
    // A whole-millisecond watermark, as a previous version wrote it.
    for (const r of [old, newer]) await raw.set(store.keys.revokedBefore(r.identityId, tokenShard(r.jti)), String(T0));
    expect(await store.check(old.jti, old.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    expect((await store.check(newer.jti, newer.identityId, T0, false)).ok).toBe(true);
    await store.close();
  });

  it('keeps keys apart under different keyPrefixes', async () => {
    const a = new RedisTokenStore({ url: server.url, keyPrefix: 'gw-a:' });
    const b = new RedisTokenStore({ url: server.url, keyPrefix: 'gw-b:' });
    const rec = makeRecord();
    await a.put(rec);
    expect(await raw.exists(`gw-a:token:{${rec.identityId}/${tokenShard(rec.jti)}}:${rec.jti}`)).toBe(1);
    expect(await b.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
    await Promise.all([a.close(), b.close()]);
  });

  it('reloads its scripts after Redis forgets them (SCRIPT FLUSH, as after a restart), running each call once', async () => {
    const store = newStore();
    const rec = limited(3);
    await store.put(rec);
    const cert = makeCert();
    const login = makeRecord({ certSha256: cert.sha256 });
    await raw.script('FLUSH');
    await raw.config('RESETSTAT');
    // The bearer check and the login go out as a bare EVALSHA: NOSCRIPT (nothing ran), then EVAL.
    expect((await store.check(rec.jti, rec.identityId, T0, true)).ok).toBe(true);
    expect(await raw.hget(store.keys.token(rec.identityId, rec.jti), 'usesRemaining')).toBe('2');
    expect(await store.putAndIndex(login, cert, { maxOutstanding: 5 }, T0)).toEqual({ certificateRevoked: false });
    expect(await raw.zrange(store.keys.outstanding(login.identityId), '0', '-1')).toEqual([login.jti]);
    expect(await raw.zrange(store.keys.certTokens(cert.sha256), '0', '-1')).toEqual([`${login.identityId}:${login.jti}`]);
    expect(await commandCalls('evalsha')).toBe(2);
    expect(await commandCalls('eval')).toBe(2);
    // Loaded again by those EVALs: both go out as EVALSHA only.
    await raw.config('RESETSTAT');
    expect((await store.check(rec.jti, rec.identityId, T0, true)).ok).toBe(true);
    expect(await store.putAndIndex(makeRecord({ certSha256: cert.sha256 }), cert, {}, T0)).toEqual({ certificateRevoked: false });
    expect(await commandCalls('evalsha')).toBe(2);
    expect(await commandCalls('eval')).toBe(0);
    await store.close();
  });
});
