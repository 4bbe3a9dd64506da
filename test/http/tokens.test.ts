import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/token/keys.js';
import type { ManualClock } from '../../src/util/clock.js';
import { getJson, LOGIN_PATH, postJson, startTestGateway, startTestGatewayOn, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type MintedCert, type TestPki } from '../helpers/pki.js';

const ADMIN = 'admin-secret-0123456789';
const RS_SECRET = 'introspection-secret-0123';
let pki: TestPki;
let cert: MintedCert;
let other: MintedCert;

beforeAll(async () => {
  pki = await makeTestPki();
  cert = await pki.leaf({ cn: 'worker-1' });
  other = await pki.leaf({ cn: 'worker-2' });
});

function doc(p: TestPki) {
  const ca = p.rootA.pem + p.interA.pem;
  return {
    trustedProxies: [{ cidrs: ['127.0.0.1/32', '::1/128'], header: 'x-ssl-client-cert', format: 'nginx' }],
    admin: { tokens: [ADMIN] },
    introspection: { clients: [{ id: 'rs-1', secret: RS_SECRET }] },
    identities: [
      { id: 'limited', caCertificate: ca, accessTokenTTL: 60, accessTokenMaxTTL: 150, accessTokenNumUsesLimit: 3, accessTokenTrustedIps: ['127.0.0.1/32', '::1/128'], scopes: ['a', 'b'] },
      { id: 'elsewhere', caCertificate: ca, accessTokenTrustedIps: ['10.0.0.0/8'] },
      { id: 'bound', caCertificate: ca, bindTokenToCertificate: true },
      { id: 'open', caCertificate: ca },
    ],
  };
}

describe.each(['memory', 'redis'] as const)('token lifecycle (%s store)', (kind) => {
  let gw: TestGateway;
  let clock: ManualClock;

  beforeAll(async () => {
    gw = await startTestGatewayOn(kind, doc(pki));
    clock = gw.clock as ManualClock;
  });
  afterAll(() => gw?.close());

  const login = async (identityId: string, c: MintedCert = cert) => {
    const res = await postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': nginxEscaped(c, pki.interA) });
    expect(res.status).toBe(200);
    return res.body.accessToken as string;
  };
  const bearer = (t: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${t}`, ...extra });
  const forward = (t: string, extra: Record<string, string> = {}) => getJson(gw.url + '/api/v1/auth/forward', bearer(t, extra));
  const self = (t: string, extra: Record<string, string> = {}) => getJson(gw.url + '/api/v1/auth/token/self', bearer(t, extra));

  it('allows exactly N uses; lookups consume nothing', async () => {
    const t = await login('limited');
    expect((await self(t)).body.usesRemaining).toBe(3);
    for (let i = 0; i < 3; i++) {
      const r = await forward(t);
      expect(r.status).toBe(204);
      expect(r.headers.get('x-certgate-identity')).toBe('limited');
      expect(r.headers.get('x-certgate-subject')).toContain('CN=worker-1');
    }
    expect((await self(t)).status).toBe(401);
    const spent = await forward(t);
    expect(spent.status).toBe(401);
    expect(spent.body.error).toBe('token_uses_exhausted');
    expect(spent.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('checks the client IP before consuming a use; a refused call costs nothing', async () => {
    const t = await login('limited');
    // From a trusted proxy: the right-most X-Forwarded-For entry that is not a proxy is the client.
    const refused = await forward(t, { 'x-forwarded-for': '10.9.9.9' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('token_ip_not_allowed');
    // A spoofed left-most entry does not help.
    expect((await forward(t, { 'x-forwarded-for': '127.0.0.1, 10.9.9.9' })).status).toBe(403);
    expect((await self(t)).body.usesRemaining).toBe(3);
    // Every entry a trusted proxy: the client is the left-most, here the proxy's own address.
    expect((await forward(t, { 'x-forwarded-for': '127.0.0.1' })).status).toBe(204);
    expect((await self(t)).body.usesRemaining).toBe(2);
  });

  it('refuses every call of a token whose trusted IPs exclude the caller', async () => {
    const t = await login('elsewhere');
    const r = await self(t);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('token_ip_not_allowed');
  });

  it('expires on the injected clock', async () => {
    const t = await login('limited');
    clock.advance(59_000);
    expect((await self(t)).status).toBe(200);
    clock.advance(62_000); // past exp + the 30 s skew allowance
    const r = await self(t);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('token_expired');
  });

  it('renews up to the max TTL and no further, keeping jti and uses', async () => {
    const t0 = await login('limited');
    const start = decodeJwt(t0);
    await forward(t0);
    clock.advance(40_000);
    const r1 = await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: t0 });
    expect(r1.status).toBe(200);
    const c1 = decodeJwt(r1.body.accessToken);
    expect(c1.jti).toBe(start.jti);
    expect(c1.exp).toBe(start.iat! + 40 + 60);
    expect(r1.body.expiresIn).toBe(60);
    expect((await self(r1.body.accessToken)).body.usesRemaining).toBe(2);
    clock.advance(55_000);
    const r2 = await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: r1.body.accessToken });
    expect(r2.status).toBe(200);
    expect(decodeJwt(r2.body.accessToken).exp).toBe(start.iat! + 150); // capped at max TTL
    clock.advance(10_000);
    const r3 = await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: r2.body.accessToken });
    expect(r3.status).toBe(401);
    expect(r3.body.error).toBe('token_max_ttl_reached');
  });

  it('checks the IP on renew too', async () => {
    const t = await login('limited');
    const r = await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: t }, { 'x-forwarded-for': '10.9.9.9' });
    expect(r.status).toBe(403);
  });

  it('percent-encodes a non-ASCII certificate subject in the forward-auth headers', async () => {
    const t = await login('open', await pki.leaf({ cn: 'wörker-ü' }));
    const r = await forward(t);
    expect(r.status).toBe(204);
    expect(decodeURIComponent(r.headers.get('x-certgate-subject')!)).toContain('CN=wörker-ü');
  });

  it('revokes a token', async () => {
    const t = await login('open');
    const r = await postJson(gw.url + '/api/v1/auth/token/revoke', { accessToken: t });
    expect(r.status).toBe(200);
    expect(r.body.message).toMatch(/revoked/i);
    const after = await forward(t);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('token_revoked');
    expect((await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: t })).status).toBe(401);
  });

  it('revokes every earlier token of an identity through the admin API, not later ones', async () => {
    const before = await login('open');
    expect((await postJson(gw.url + '/api/v1/admin/identities/open/revoke-tokens', {}, { authorization: 'Bearer wrong-admin-token-xxxx' })).status).toBe(401);
    const list = await getJson(gw.url + '/api/v1/admin/identities', { authorization: `Bearer ${ADMIN}` });
    expect(list.body.identities.map((i: { id: string }) => i.id)).toEqual(['limited', 'elsewhere', 'bound', 'open']);
    expect((await getJson(gw.url + '/api/v1/admin/identities')).status).toBe(401);
    const res = await postJson(gw.url + '/api/v1/admin/identities/open/revoke-tokens', {}, { authorization: `Bearer ${ADMIN}` });
    expect(res.status).toBe(200);
    expect((await forward(before)).body.error).toBe('token_revoked');
    clock.advance(1); // one millisecond later is after the watermark
    const after = await login('open');
    expect((await forward(after)).status).toBe(204);
  });

  it('binds a token to its certificate (RFC 8705) when the identity asks', async () => {
    const t = await login('bound', cert);
    expect(decodeJwt(t).cnf).toEqual({ 'x5t#S256': expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const bare = await forward(t);
    expect(bare.status).toBe(401);
    expect(bare.body.error).toBe('token_certificate_mismatch');
    expect((await forward(t, { 'x-ssl-client-cert': nginxEscaped(other, pki.interA) })).body.error).toBe('token_certificate_mismatch');
    expect((await forward(t, { 'x-ssl-client-cert': nginxEscaped(cert, pki.interA) })).status).toBe(204);
  });

  it('introspects (RFC 7662) without consuming a use', async () => {
    const t = await login('limited');
    const auth = { authorization: 'Basic ' + Buffer.from(`rs-1:${RS_SECRET}`).toString('base64') };
    const form = await fetch(gw.url + '/oauth2/introspect', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t }),
    });
    expect(form.status).toBe(200);
    const body = (await form.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ active: true, sub: 'limited', scope: 'a b', jti: decodeJwt(t).jti, uses_remaining: 3 });
    const json = await postJson(gw.url + '/oauth2/introspect', { token: 'garbage' }, auth);
    expect(json.body).toEqual({ active: false });
    const wrong = await postJson(gw.url + '/oauth2/introspect', { token: t }, { authorization: 'Basic ' + Buffer.from('rs-1:nope').toString('base64') });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect((await self(t)).body.usesRemaining).toBe(3);
  });
});

describe('bad bearer tokens', () => {
  let gw: TestGateway;
  let ring: KeyRing;
  let good: string;
  beforeAll(async () => {
    gw = await startTestGateway(doc(pki));
    ring = await KeyRing.open({ dir: gw.config.keys.dir });
    const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'limited' }, { 'x-ssl-client-cert': nginxEscaped(cert, pki.interA) });
    good = res.body.accessToken;
  });
  afterAll(() => gw?.close());

  const now = () => Math.floor(gw.clock.now() / 1000);
  const sign = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT({ iss: 'https://certgate.test', aud: 'certgate', sub: 'limited', jti: decodeJwt(good).jti, iat: now(), nbf: now(), exp: now() + 60, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: ring.active.kid, ...header })
      .sign(ring.active.privateKey);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

  const cases: [string, () => Promise<string>, string][] = [
    ['malformed', async () => 'not.a.jwt', 'token_malformed'],
    ['truncated', async () => good.slice(0, good.length - 20), 'token_signature_invalid'],
    ['alg none', async () => `${b64({ alg: 'none', kid: ring.active.kid })}.${good.split('.')[1]}.`, 'token_algorithm_not_allowed'],
    [
      'HS256 signed with the public key',
      async () => new SignJWT(decodeJwt(good)).setProtectedHeader({ alg: 'HS256', kid: ring.active.kid }).sign(new TextEncoder().encode(JSON.stringify(ring.active.publicJwk))),
      'token_algorithm_not_allowed',
    ],
    [
      'an unknown kid',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return new SignJWT(decodeJwt(good)).setProtectedHeader({ alg: 'ES256', kid: 'someone-else' }).sign(privateKey);
      },
      'token_key_unknown',
    ],
    ['expired', () => sign({ exp: now() - 120, iat: now() - 200, nbf: now() - 200 }), 'token_expired'],
    ['nbf in the future', () => sign({ nbf: now() + 600 }), 'token_not_yet_valid'],
    ['a wrong iss', () => sign({ iss: 'https://evil.example' }), 'token_claim_invalid'],
    ['a wrong aud', () => sign({ aud: 'someone-else' }), 'token_claim_invalid'],
    ['a jti never issued', () => sign({ jti: '00000000-0000-4000-8000-000000000000' }), 'token_unknown'],
    ['oversized', async () => good + 'A'.repeat(9000), 'token_too_large'],
  ];

  it.each(cases)('refuses %s with 401 invalid_token', async (_name, make, code) => {
    const token = await make();
    const res = await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe(code);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('refuses a missing or non-Bearer Authorization header', async () => {
    expect((await getJson(gw.url + '/api/v1/auth/forward')).body.error).toBe('token_missing');
    expect((await getJson(gw.url + '/api/v1/auth/forward', { authorization: 'Basic abc' })).body.error).toBe('token_malformed');
  });
});
