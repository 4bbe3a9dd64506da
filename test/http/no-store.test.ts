/**
 * RFC 6749 §5.1: login and renew answers carry a token and must never be cached — nor their
 * refusals, which a shared cache could otherwise hand to the next caller of the same URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

const RENEW = '/api/v1/auth/token/renew';

describe('Cache-Control: no-store on token answers', () => {
  let gw: TestGateway;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] }],
    });
  });
  afterAll(() => gw?.close());

  const noStore = (r: { headers: Headers }) => ({ cacheControl: r.headers.get('cache-control'), pragma: r.headers.get('pragma') });
  const expected = { cacheControl: 'no-store', pragma: 'no-cache' };

  it('login and renew successes', async () => {
    const login = await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    expect(login.status).toBe(200);
    expect(noStore(login)).toEqual(expected);
    const renew = await postJson(gw.url + RENEW, { accessToken: login.body.accessToken });
    expect(renew.status).toBe(200);
    expect(noStore(renew)).toEqual(expected);
  });

  it.each([
    ['login without a certificate', LOGIN_PATH, {}, {}, 401],
    ['login with a malformed body', LOGIN_PATH, 'not json', { 'x-ssl-client-cert': 'x' }, 400],
    ['login for an unknown identity', LOGIN_PATH, { identityId: 'nobody' }, {}, 401],
    ['renew with a bad token', RENEW, { accessToken: 'not-a-jwt' }, {}, 401],
    ['renew without a token', RENEW, {}, {}, 400],
  ] as const)('%s: refused, still no-store', async (_what, path, body, headers, status) => {
    const r = await postJson(gw.url + path, body, headers);
    expect(r.status).toBe(status);
    expect(r.body).toEqual(expect.objectContaining({ statusCode: status, error: expect.any(String), reqId: expect.any(String) }));
    expect(noStore(r)).toEqual(expected);
  });

  it('lookups that carry no token are not marked (the header is specific to token answers)', async () => {
    expect((await getJson(gw.url + '/.well-known/jwks.json')).headers.get('cache-control')).not.toBe('no-store');
  });
});
