import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeNewKey } from '../../src/token/key-file.js';
import type { ManualClock } from '../../src/util/clock.js';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/** keys.algorithm, keys.publishBefore and the JWKS as a gateway serves them. */
describe('signing keys through the gateway', () => {
  let header: string;
  let caPem: string;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    caPem = pki.rootA.pem;
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  const start = (keys: Record<string, unknown>) =>
    startTestGateway({
      keys,
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: caPem, accessTokenTTL: 600, accessTokenMaxTTL: 3600 }],
    });
  const login = async (g: TestGateway) => {
    const res = await postJson(g.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    expect(res.status).toBe(200);
    return res.body.accessToken as string;
  };
  const self = (g: TestGateway, token: string) => getJson(g.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` });

  it.each(['EdDSA', 'RS256'] as const)('keys.algorithm %s: the first key is of that algorithm, its tokens verify against the JWKS and at the gateway', async (alg) => {
    gw = await start({ algorithm: alg });
    const token = await login(gw);
    const jwks = await getJson(gw.url + '/.well-known/jwks.json');
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ alg, use: 'sig' });
    const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks.body), {
      issuer: 'https://certgate.test',
      audience: 'certgate',
      algorithms: [alg],
      currentDate: new Date(gw.clock.now()),
    });
    expect(protectedHeader).toMatchObject({ alg, kid: jwks.body.keys[0].kid });
    expect((await self(gw, token)).status).toBe(200);
    const discovery = await getJson(gw.url + '/.well-known/openid-configuration');
    expect(discovery.body.id_token_signing_alg_values_supported).toEqual([alg]);
  });

  it('the JWKS may be cached for at most publishBefore − 10 s, and never more than 5 minutes', async () => {
    gw = await start({});
    expect((await getJson(gw.url + '/.well-known/jwks.json')).headers.get('cache-control')).toBe('public, max-age=300');
    await gw.close();
    gw = await start({ publishBefore: 70 });
    expect((await getJson(gw.url + '/.well-known/jwks.json')).headers.get('cache-control')).toBe('public, max-age=60');
    await gw.close();
    gw = await start({ publishBefore: 3 });
    expect((await getJson(gw.url + '/.well-known/jwks.json')).headers.get('cache-control')).toBe('public, max-age=0');
  });

  it('a rotated key is in the JWKS at once, signs after publishBefore, and the old key verifies its tokens until it retires', async () => {
    gw = await start({ publishBefore: 3600 });
    const clock = gw.clock as ManualClock;
    const oldToken = await login(gw);
    const oldKid = decodeProtectedHeader(oldToken).kid;
    const kid = await writeNewKey(gw.config.keys.dir, 'EdDSA', clock.now(), clock.now() + 3600_000);
    const activatesAt = Math.floor((clock.now() + 3600_000) / 1000) * 1000; // key files keep whole seconds
    await gw.gateway.keys.refresh(); // what the 5 s timer does
    const kids = async () => (await getJson(gw!.url + '/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(await kids()).toEqual([oldKid, kid]);
    expect(decodeProtectedHeader(await login(gw)).kid).toBe(oldKid);
    clock.set(activatesAt - 1000);
    const lastOld = await login(gw); // signed by the old key a second before the switch
    expect(decodeProtectedHeader(lastOld).kid).toBe(oldKid);
    expect((await self(gw, oldToken)).status).toBe(401); // expired: its TTL was 600 s
    clock.set(activatesAt);
    const newToken = await login(gw);
    expect(decodeProtectedHeader(newToken)).toMatchObject({ kid, alg: 'EdDSA' });
    expect((await self(gw, newToken)).status).toBe(200);
    // The old key's last token verifies until it expires …
    clock.set(activatesAt - 1000 + 599_000);
    expect((await self(gw, lastOld)).status).toBe(200);
    // … and the old key leaves the JWKS once every token it can have signed has expired: 10 s (a
    // gateway reading the new key late) + accessTokenMaxTTL 3600 s + clock skew 30 s after it stopped signing.
    clock.set(activatesAt + 3640_000 - 1);
    expect(await kids()).toEqual([kid, oldKid]);
    clock.set(activatesAt + 3640_000);
    expect(await kids()).toEqual([kid]);
  });
});
