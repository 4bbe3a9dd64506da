import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, type MintedCert, type TestPki } from '../helpers/pki.js';
import { DAY, HOUR, makeCrl } from '../revocation/crl-fixtures.js';

/**
 * The caches on the hot paths never let through what the uncached check would refuse: the
 * verified-path cache (login) and the verified-JWT and fixed-fields caches (every bearer call,
 * here through the forward fast path) on a real Redis. Each case warms the cache with a success
 * first, then changes the one thing that must make the next call fail.
 */
const ADMIN = 'admin-secret-0123456789';
const t0 = Date.now();

describe('caches never let a revoked, spent or expired token or certificate through', () => {
  let redis: RedisServer;
  let pki: TestPki;
  let gw: TestGateway;
  let clock: ManualClock;
  let dir: string;
  let good: MintedCert;
  let bad: MintedCert;

  const writeCrl = async (revoked: MintedCert[], thisUpdate: number) =>
    writeFileSync(join(dir, 'crls', 'inter.crl'), await makeCrl(pki.interA, { revoked, thisUpdate: new Date(thisUpdate), nextUpdate: new Date(thisUpdate + 7 * DAY) }));

  beforeAll(async () => {
    pki = await makeTestPki();
    redis = await startRedis();
    dir = makeTempDir('certgate-caches-');
    mkdirSync(join(dir, 'crls'));
    good = await pki.leaf({ cn: 'agent-good', notBefore: new Date(t0 - HOUR), notAfter: new Date(t0 + 2 * DAY) });
    bad = await pki.leaf({ cn: 'agent-bad' });
    await writeCrl([], t0 - HOUR);
    clock = new ManualClock(t0);
    gw = await startTestGateway(
      {
        store: { url: redis.url },
        admin: { tokens: [ADMIN] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [
          { id: 'agents', caCertificate: pki.rootA.pem, accessTokenTTL: 600, accessTokenMaxTTL: 3600 },
          { id: 'limited', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-bad'], accessTokenNumUsesLimit: 2 },
          { id: 'checked', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-bad'], revocation: { crl: { fromCertificate: false, files: ['crls/inter.crl'] } } },
        ],
      },
      { baseDir: dir, clock },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
  });

  const login = (leaf: MintedCert, identityId: string) => postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': nginxEscaped(leaf, pki.interA) });
  const token = async (leaf: MintedCert, identityId: string) => {
    const res = await login(leaf, identityId);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.accessToken as string;
  };
  const forward = (t: string) => getJson(`${gw.url}/api/v1/auth/forward`, { authorization: `Bearer ${t}` });

  it('a certificate that expires after a cached login is refused (injected clock)', async () => {
    clock.set(t0);
    await token(good, 'agents');
    expect(gw.gateway.paths.size).toBeGreaterThan(0);
    const hits = gw.gateway.paths.hits;
    expect((await login(good, 'agents')).status).toBe(200);
    expect(gw.gateway.paths.hits).toBe(hits + 1); // served from the path cache
    clock.set(t0 + 2 * DAY + 1000);
    const res = await login(good, 'agents');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('certificate_expired');
    clock.set(t0);
  });

  it('a CRL that starts listing the certificate after a cached login refuses the next login', async () => {
    clock.set(t0);
    // The first login also loads the CRL file for the first time, which drops the path cache.
    expect((await login(bad, 'checked')).status).toBe(200);
    expect((await login(bad, 'checked')).status).toBe(200);
    const hits = gw.gateway.paths.hits;
    expect((await login(bad, 'checked')).status).toBe(200);
    expect(gw.gateway.paths.hits).toBe(hits + 1);
    await writeCrl([bad], t0 - HOUR / 2); // a new file: other size and mtime, re-read on the next login
    const res = await login(bad, 'checked');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('certificate_revoked');
    // New revocation data dropped every cached path: the next login searches its path again.
    clock.set(t0);
    const before = gw.gateway.paths.hits;
    expect((await login(good, 'agents')).status).toBe(200);
    expect(gw.gateway.paths.hits).toBe(before);
  });

  it('a token revoked after cached calls is refused', async () => {
    clock.set(t0);
    const t = await token(good, 'agents');
    expect((await forward(t)).status).toBe(204);
    expect((await forward(t)).status).toBe(204);
    expect((await postJson(`${gw.url}/api/v1/auth/token/revoke`, { accessToken: t })).status).toBe(200);
    const res = await forward(t);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('token_revoked');
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('a token whose identity is revoked-all after cached calls is refused', async () => {
    clock.set(t0);
    const t = await token(good, 'agents');
    expect((await forward(t)).status).toBe(204);
    const res = await postJson(`${gw.url}/api/v1/admin/identities/agents/revoke-tokens`, {}, { authorization: `Bearer ${ADMIN}` });
    expect(res.status).toBe(200);
    expect((await forward(t)).body.error).toBe('token_revoked');
  });

  it('a token spent after cached calls is refused, exactly at its use limit', async () => {
    clock.set(t0);
    // Another certificate with the same CN: `bad` was revoked by the CRL above, and a revoked
    // certificate's logins are refused under every identity.
    const t = await token(await pki.leaf({ cn: 'agent-bad' }), 'limited');
    expect((await forward(t)).status).toBe(204);
    expect((await forward(t)).status).toBe(204);
    const res = await forward(t);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('token_uses_exhausted');
  });

  it('cached calls answer the uses left and the expiry of now, not of the first call', async () => {
    clock.set(t0);
    const self = (t: string) => getJson(`${gw.url}/api/v1/auth/token/self`, { authorization: `Bearer ${t}` });
    const limited = await token(await pki.leaf({ cn: 'agent-bad' }), 'limited');
    expect((await self(limited)).body.usesRemaining).toBe(2); // the first call caches the record
    expect((await forward(limited)).status).toBe(204);
    expect((await self(limited)).body.usesRemaining).toBe(1);
    const t = await token(good, 'agents');
    const first = (await self(t)).body.expiresAt as string;
    clock.set(t0 + 300_000);
    const renewed = await postJson(`${gw.url}/api/v1/auth/token/renew`, { accessToken: t });
    expect(renewed.status).toBe(200);
    const later = (await self(renewed.body.accessToken as string)).body.expiresAt as string;
    expect(Date.parse(later)).toBe(Date.parse(first) + 300_000);
    clock.set(t0);
  });

  it('a token that expires after cached calls is refused (injected clock)', async () => {
    clock.set(t0);
    const t = await token(good, 'agents');
    expect((await forward(t)).status).toBe(204);
    clock.set(t0 + 601_000 + 60_000 * 5); // past exp and the clock-skew allowance
    const res = await forward(t);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('token_expired');
    clock.set(t0);
  });
});
