import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Writable } from 'node:stream';
import axios from 'axios';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { pino } from 'pino';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, LOGIN_PATH, postJson, startTestGateway, startTestGatewayOn, type TestGateway } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem, type MintedCert, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let agent: MintedCert; // CN=agent-1 under interA, SAN URI spiffe
let dir: string;

function identities(p: TestPki) {
  return [
    {
      id: 'build-agents',
      // Multi-root bundle: the anchor of agent-1 is the second PEM.
      caCertificate: p.rootB.pem + p.rootA.pem,
      allowedCommonNames: ['agent-*'],
      scopes: ['certificates:request'],
      claims: { domains: ['*.ci.example.com'] },
    },
    {
      id: 'spiffe-ci',
      // The intermediate only in the bundle; leaves sent alone still chain.
      caCertificate: p.rootA.pem + p.interA.pem,
      allowedSubjectAltNames: ['URI:spiffe://corp/ns/ci/*'],
      accessTokenNumUsesLimit: 3,
    },
    {
      id: 'bound',
      caCertificate: p.rootA.pem + p.interA.pem,
      allowedCommonNames: ['bound-*'],
      bindTokenToCertificate: true,
    },
  ];
}

const trustedProxies = [
  { cidrs: ['127.0.0.1/32', '::1/128'], header: 'x-ssl-client-cert', format: 'nginx' },
  { cidrs: ['10.0.0.0/8'], header: 'x-lb-client-cert', format: 'der-base64' },
];

beforeAll(async () => {
  pki = await makeTestPki();
  agent = await pki.leaf({ cn: 'agent-1', san: [{ type: 'uri', value: 'spiffe://corp/ns/ci/sa/builder' }] });
  dir = makeTempDir();
  writePem(dir, 'server.pem', pki.server.pem);
  writePem(dir, 'server-key.pem', pki.server.keyPem);
});

const login = (gw: TestGateway, header: string | undefined, body: unknown = {}) =>
  postJson(gw.url + LOGIN_PATH, body, header === undefined ? {} : { 'x-ssl-client-cert': header });

describe.each(['memory', 'redis'] as const)('login through a trusted proxy header (%s store)', (kind) => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGatewayOn(kind, { identities: identities(pki), trustedProxies });
  });
  afterAll(() => gw?.close());

  it('issues a token for a chain through a forwarded intermediate', async () => {
    const res = await login(gw, nginxEscaped(agent, pki.interA), { identityId: 'build-agents' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'accessTokenMaxTTL', 'expiresIn', 'tokenType']);
    expect(res.body.tokenType).toBe('Bearer');
    expect(res.body.expiresIn).toBe(7200);
    expect(res.body.accessTokenMaxTTL).toBe(86400);

    const jwks = await getJson(gw.url + '/.well-known/jwks.json');
    const { payload, protectedHeader } = await jwtVerify(res.body.accessToken, createLocalJWKSet(jwks.body), {
      issuer: 'https://certgate.test',
      audience: 'certgate',
      algorithms: ['ES256'],
      currentDate: new Date(gw.clock.now()),
    });
    expect(protectedHeader.kid).toBe(jwks.body.keys[0].kid);
    expect(payload.sub).toBe('build-agents');
    expect(payload.scope).toBe('certificates:request');
    expect(payload.domains).toEqual(['*.ci.example.com']);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(7200);
    // The record exists in the store under the jti, with the certificate's fingerprint.
    const rec = await gw.gateway.store.check(payload.jti!, 'build-agents', gw.clock.now(), false);
    expect(rec.ok && rec.record.certSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('uses an intermediate that is only in the bundle, and keeps the identity use limit', async () => {
    const res = await login(gw, nginxEscaped(agent), { identityId: 'spiffe-ci' });
    expect(res.status).toBe(200);
    const self = await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${res.body.accessToken}` });
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ identityId: 'spiffe-ci', usesRemaining: 3 });
  });

  it('refuses a missing intermediate', async () => {
    const res = await login(gw, nginxEscaped(agent), { identityId: 'build-agents' });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ statusCode: 401, error: 'chain_incomplete' });
    expect(typeof res.body.reqId).toBe('string');
  });

  it('answers 409 when the certificate satisfies several identities and none is named', async () => {
    const res = await login(gw, nginxEscaped(agent, pki.interA));
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('ambiguous_identity');
  });

  it('picks the single matching identity when none is named', async () => {
    const other = await pki.leaf({ cn: 'agent-2' }); // no SPIFFE URI: only build-agents matches
    const res = await login(gw, nginxEscaped(other, pki.interA));
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.accessToken).sub).toBe('build-agents');
  });

  it('refuses a common name outside the globs', async () => {
    const other = await pki.leaf({ cn: 'Agent-1' }); // exact case
    const res = await login(gw, nginxEscaped(other, pki.interA), { identityId: 'build-agents' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('common_name_not_allowed');
  });

  it('refuses a certificate from an untrusted CA', async () => {
    const { mintCertificate } = await import('../../src/pki/mint.js');
    const rogueLeaf = await mintCertificate({ subject: 'CN=agent-1', issuer: pki.rogue });
    const res = await login(gw, nginxEscaped(rogueLeaf), { identityId: 'build-agents' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('chain_incomplete');
  });

  it('never lets the token outlive the certificate', async () => {
    const shortLived = await pki.leaf({ cn: 'agent-short', notAfter: new Date(gw.clock.now() + 600_000) });
    const res = await login(gw, nginxEscaped(shortLived, pki.interA), { identityId: 'build-agents' });
    expect(res.status).toBe(200);
    expect(res.body.expiresIn).toBeLessThanOrEqual(600);
    expect(decodeJwt(res.body.accessToken).exp).toBeLessThanOrEqual(Math.floor((gw.clock.now() + 600_000) / 1000));
  });
});

describe('login refusals for bad input and untrusted peers', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ identities: identities(pki), trustedProxies });
  });
  afterAll(() => gw?.close());

  const rawPost = (headers: Record<string, string | string[]>, body = '{}') =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest(gw.url + LOGIN_PATH, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let t = '';
        res.on('data', (d) => (t += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: t ? JSON.parse(t) : undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('ignores and refuses a certificate header from a peer outside trustedProxies', async () => {
    // x-lb-client-cert is trusted only from 10.0.0.0/8; this request comes from 127.0.0.1.
    const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'build-agents' }, { 'x-lb-client-cert': Buffer.from(agent.der).toString('base64') });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('untrusted_proxy');
  });

  it('refuses a duplicated certificate header', async () => {
    const v = nginxEscaped(agent, pki.interA);
    const res = await rawPost({ 'x-ssl-client-cert': [v, v] });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('duplicate_certificate_header');
  });

  // Values are built lazily: the certificates exist only once beforeAll has run.
  it.each<[string, () => string, number]>([
    ['garbage', () => 'not a certificate at all', 400],
    ['truncated PEM', () => nginxEscaped(agent).slice(0, 200), 400],
    ['bad percent escape', () => '-----BEGIN%20CERTIFICATE-----%ZZ', 400],
    ['base64 of a non-certificate', () => encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), 400],
    ['oversized header', () => 'A'.repeat(33 * 1024), 431],
  ])('answers a 4xx, not a 500, for a %s header', async (_name, header, status) => {
    const res = await login(gw, header(), { identityId: 'build-agents' });
    expect(res.status).toBe(status);
    expect(res.body.statusCode).toBe(status);
    expect(typeof res.body.error).toBe('string');
  });

  it.each([
    ['a body that is not JSON', '{nope', 400, 'invalid_json'],
    ['a body that is not an object', '[1,2]', 400, 'invalid_body'],
    ['a non-string identityId', '{"identityId": 7}', 400, 'invalid_body'],
    ['an unknown identityId', '{"identityId": "nobody"}', 400, 'unknown_identity'],
  ])('refuses %s', async (_n, body, status, code) => {
    const res = await login(gw, nginxEscaped(agent, pki.interA), body);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(code);
  });

  it('refuses a login without any certificate', async () => {
    const res = await login(gw, undefined, { identityId: 'build-agents' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('certificate_required');
  });

  it('refuses a too-large body with 413', async () => {
    const res = await rawPost({ 'x-ssl-client-cert': nginxEscaped(agent, pki.interA) }, JSON.stringify({ pad: 'x'.repeat(20000) }));
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('body_too_large');
  });
});

describe('loginTrustedIps', () => {
  it('refuses a login from outside the identity login range with 403', async () => {
    const ids = identities(pki).map((i) => ({ ...i, loginTrustedIps: ['10.0.0.0/8'] }));
    const gw = await startTestGateway({ identities: ids, trustedProxies });
    try {
      const res = await login(gw, nginxEscaped(agent, pki.interA), { identityId: 'build-agents' });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('login_ip_not_allowed');
    } finally {
      await gw.close();
    }
  });
});

describe('direct mTLS listener', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(
      { identities: identities(pki), server: { tls: { port: 0, cert: 'server.pem', key: 'server-key.pem' } } },
      { baseDir: dir },
    );
  });
  afterAll(() => gw?.close());

  it('logs in with a Node https.Agent + axios client presenting its certificate', async () => {
    const httpsAgent = new HttpsAgent({ cert: agent.pem + pki.interA.pem, key: agent.keyPem, ca: pki.rootA.pem });
    const res = await axios.post(gw.tlsUrl + LOGIN_PATH, { identityId: 'build-agents' }, { httpsAgent, validateStatus: () => true });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.data.accessToken).sub).toBe('build-agents');
    httpsAgent.destroy();
  });

  it('logs in with undici presenting its certificate', async () => {
    const dispatcher = new UndiciAgent({ connect: { cert: agent.pem + pki.interA.pem, key: agent.keyPem, ca: pki.rootA.pem } });
    const res = await undiciRequest(gw.tlsUrl + LOGIN_PATH, { method: 'POST', body: JSON.stringify({ identityId: 'spiffe-ci' }), headers: { 'content-type': 'application/json' }, dispatcher });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { accessToken: string };
    expect(decodeProtectedHeader(body.accessToken).alg).toBe('ES256');
    await dispatcher.close();
  });

  it('refuses a TLS client that presents no certificate', async () => {
    const httpsAgent = new HttpsAgent({ ca: pki.rootA.pem });
    const res = await axios.post(gw.tlsUrl + LOGIN_PATH, {}, { httpsAgent, validateStatus: () => true });
    expect(res.status).toBe(401);
    expect(res.data.error).toBe('certificate_required');
    httpsAgent.destroy();
  });

  it('binds a token to the TLS client certificate: the same certificate passes, another or none does not', async () => {
    const boundCert = await pki.leaf({ cn: 'bound-1' });
    const otherCert = await pki.leaf({ cn: 'bound-2' });
    const withCert = (c: MintedCert) => new HttpsAgent({ cert: c.pem, key: c.keyPem, ca: pki.rootA.pem });
    const login = await axios.post(gw.tlsUrl + LOGIN_PATH, {}, { httpsAgent: withCert(boundCert), validateStatus: () => true });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${login.data.accessToken}` };
    const same = await axios.get(gw.tlsUrl + '/api/v1/auth/forward', { httpsAgent: withCert(boundCert), headers: auth, validateStatus: () => true });
    expect(same.status).toBe(204);
    const other = await axios.get(gw.tlsUrl + '/api/v1/auth/forward', { httpsAgent: withCert(otherCert), headers: auth, validateStatus: () => true });
    expect(other.status).toBe(401);
    expect(other.data.error).toBe('token_certificate_mismatch');
    const none = await axios.get(gw.url + '/api/v1/auth/forward', { headers: auth, validateStatus: () => true });
    expect(none.status).toBe(401);
  });

  it('ignores forwarded certificate headers on the TLS listener', async () => {
    const httpsAgent = new HttpsAgent({ ca: pki.rootA.pem });
    const res = await axios.post(gw.tlsUrl + LOGIN_PATH, {}, { httpsAgent, headers: { 'x-ssl-client-cert': nginxEscaped(agent, pki.interA) }, validateStatus: () => true });
    expect(res.status).toBe(401);
    expect(res.data.error).toBe('certificate_required');
    httpsAgent.destroy();
  });
});

describe('audit log', () => {
  it('writes one line per login with identity, fingerprint, CN, serial, addresses and outcome — and never the token or header', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(...chunk.toString().split('\n').filter(Boolean)); cb(); } });
    const gw = await startTestGateway({ identities: identities(pki), trustedProxies }, { baseDir: dir, log: pino({ level: 'info' }, sink) });
    try {
      const header = nginxEscaped(agent, pki.interA);
      const ok = await postJson(gw.url + LOGIN_PATH, { identityId: 'build-agents' }, { 'x-ssl-client-cert': header });
      const bad = await postJson(gw.url + LOGIN_PATH, { identityId: 'build-agents' }, { 'x-ssl-client-cert': nginxEscaped(agent) });
      expect(ok.status).toBe(200);
      expect(bad.status).toBe(401);
      const audits = lines.map((l) => JSON.parse(l)).filter((l) => l.event === 'login');
      expect(audits).toHaveLength(2);
      expect(audits[0]).toMatchObject({ identity: 'build-agents', cn: 'agent-1', outcome: 'success', peer: '127.0.0.1', clientIp: '127.0.0.1' });
      expect(audits[0].certSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(audits[0].serial).toBeTruthy();
      expect(audits[1]).toMatchObject({ outcome: 'refused', reason: 'chain_incomplete' });
      const all = lines.join('\n');
      expect(all).not.toContain(ok.body.accessToken);
      expect(all).not.toContain(ok.body.accessToken.split('.')[2]);
      expect(all).not.toContain(header.slice(40, 120));
    } finally {
      await gw.close();
    }
  });
});
