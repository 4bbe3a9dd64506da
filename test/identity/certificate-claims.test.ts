import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/env.js';
import { parseCertificate } from '../../src/pki/parsing/certificate.js';
import { getJson, LOGIN_PATH, postJson, startTestGatewayOn, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type MintedCert, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let svid: MintedCert;
let plain: MintedCert;

beforeAll(async () => {
  pki = await makeTestPki();
  svid = await pki.leaf({
    cn: 'build-7',
    subject: 'CN=build-7, OU=ci, OU=builders, O=corp',
    san: [
      { type: 'uri', value: 'spiffe://corp/ns/ci/sa/build' },
      { type: 'dns', value: 'build-7.ci.example.com' },
      { type: 'dns', value: 'b7.ci.example.com' },
      { type: 'ip', value: '10.1.2.3' },
    ],
  });
  plain = await pki.leaf({ cn: 'plain-1', subject: 'CN=plain-1' });
});

const MAP = {
  spiffe_id: 'spiffeId', hostnames: 'san.dns', ips: 'san.ip', emails: 'san.email', uris: 'san.uri',
  cn: 'subject.CN', org: 'subject.O', units: 'subject.OU', serial: 'serial', fingerprint: 'sha256',
} as const;

function doc(p: TestPki) {
  return {
    trustedProxies: [{ cidrs: ['127.0.0.1/32', '::1/128'], header: 'x-ssl-client-cert', format: 'nginx' }],
    identities: [{ id: 'workers', caCertificate: p.rootA.pem + p.interA.pem, claims: { team: 'ci' }, certificateClaims: MAP, accessTokenTTL: 60 }],
  };
}

describe.each(['memory', 'redis'] as const)('certificateClaims (%s store)', (kind) => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGatewayOn(kind, doc(pki));
  });
  afterAll(() => gw?.close());

  const login = async (c: MintedCert) => {
    const res = await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': nginxEscaped(c, pki.interA) });
    expect(res.status).toBe(200);
    return res.body.accessToken as string;
  };

  it('copies the verified certificate fields into the token, beside the static claims', async () => {
    const token = await login(svid);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      team: 'ci',
      spiffe_id: 'spiffe://corp/ns/ci/sa/build',
      hostnames: ['build-7.ci.example.com', 'b7.ci.example.com'],
      ips: ['10.1.2.3'],
      emails: [],
      uris: ['spiffe://corp/ns/ci/sa/build'],
      cn: 'build-7',
      org: 'corp',
      units: ['ci', 'builders'],
      serial: parseCertificate(svid.der).serial,
      fingerprint: parseCertificate(svid.der).sha256,
    });
  });

  it('keeps them across renewal (the certificate is not presented again)', async () => {
    const token = await login(svid);
    const res = await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: token });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.accessToken)).toMatchObject({ spiffe_id: 'spiffe://corp/ns/ci/sa/build', cn: 'build-7' });
  });

  it('omits scalar fields the certificate lacks and gives empty lists for missing SANs', async () => {
    const claims = decodeJwt(await login(plain));
    expect(claims).not.toHaveProperty('spiffe_id');
    expect(claims).not.toHaveProperty('org');
    expect(claims).toMatchObject({ cn: 'plain-1', hostnames: [], uris: [] });
  });

  it('forward-auth answers with X-Certgate-Claim-<Name> headers', async () => {
    const token = await login(svid);
    const res = await getJson(gw.url + '/api/v1/auth/forward', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(204);
    expect(res.headers.get('x-certgate-claim-spiffe-id')).toBe('spiffe://corp/ns/ci/sa/build');
    expect(res.headers.get('x-certgate-claim-hostnames')).toBe('build-7.ci.example.com,b7.ci.example.com');
    expect(res.headers.get('x-certgate-claim-units')).toBe('ci,builders');
    expect(res.headers.get('x-certgate-claim-serial')).toBe(parseCertificate(svid.der).serial);
  });
});

describe('certificateClaims configuration', () => {
  const build = (certificateClaims: unknown, claims: unknown = {}) => () =>
    buildConfig({ issuer: 'https://x.test', identities: [{ id: 'a', caCertificate: pki.rootA.pem, certificateClaims, claims }] }, { baseDir: '/tmp', env: {} });

  it.each([
    [{ sub: 'spiffeId' }, 'reserved'],
    [{ host: 'san.dns2' }, 'Invalid option'],
    [{ 'Bad-Name': 'serial' }, 'claim names'],
  ])('refuses %j', (map, message) => {
    expect(build(map)).toThrow(ConfigError);
    expect(build(map)).toThrow(new RegExp(message));
  });

  it('refuses a claim set both statically and from the certificate', () => {
    expect(build({ team: 'subject.OU' }, { team: 'ci' })).toThrow(/also set in claims/);
  });
});
