import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARD_PATH } from '../../src/http/fast-paths.js';
import { LOGIN_PATH, postJson, startTestGateway, startTestGatewayOn, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { mintCertificate } from '../../src/pki/mint.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/**
 * Forward-auth on its exact path is answered in front of Koa (src/http/fast-paths.ts); HEAD
 * and longer paths (Envoy ext_authz, answered 200) go through Koa and the router. Both must give
 * the same answers: identity headers, X-Request-Id, the error document and its headers, and the
 * use they cost.
 */
describe('forward-auth fast path answers exactly like the Koa route', () => {
  let redis: RedisServer;
  let gw: TestGateway;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    redis = await startRedis();
    gw = await startTestGateway({
      store: { url: redis.url },
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem, scopes: ['a', 'b'], accessTokenNumUsesLimit: 4 }],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
  });

  const token = async () => (await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).body.accessToken as string;

  /** Everything of an answer that must match, X-Request-Id and reqId reduced to their presence. */
  async function answer(path: string, init: RequestInit = {}) {
    const res = await fetch(gw.url + path, init);
    const text = await res.text();
    const body = text ? JSON.parse(text) : null;
    const reqId = res.headers.get('x-request-id');
    if (body?.reqId !== undefined) expect(body.reqId).toBe(reqId);
    return {
      status: res.status,
      body: body && { ...body, reqId: typeof body.reqId },
      requestId: /^[0-9a-f-]{36}$/.test(reqId ?? ''),
      headers: Object.fromEntries(['x-certgate-identity', 'x-certgate-subject', 'x-certgate-scopes', 'www-authenticate', 'content-type'].map((h) => [h, res.headers.get(h)])),
    };
  }

  it('takes a use and answers 204 with the identity headers on both paths', async () => {
    const t = await token();
    const auth = { headers: { authorization: `Bearer ${t}` } };
    const fast = await answer(FORWARD_PATH, auth);
    // HEAD on the exact path goes through Koa: the same 204 and headers.
    expect(await answer(FORWARD_PATH, { ...auth, method: 'HEAD' })).toEqual(fast);
    // Longer paths (Envoy ext_authz) go through Koa too: 200 with the same identity headers.
    const envoy = await answer(`${FORWARD_PATH}/`, auth);
    expect(envoy).toEqual({ ...fast, status: 200, headers: { ...fast.headers, 'content-type': envoy.headers['content-type'] } });
    expect(fast.status).toBe(204);
    expect(fast.requestId).toBe(true);
    expect(fast.headers['x-certgate-identity']).toBe('agents');
    expect(fast.headers['x-certgate-subject']).toBe('CN=agent-1, O=certgate tests');
    expect(fast.headers['x-certgate-scopes']).toBe('a b');
    // Query string and other methods take the fast path too.
    expect((await answer(`${FORWARD_PATH}?rd=/x`, { ...auth, method: 'POST' })).status).toBe(204);
    // Four uses, four calls above: both paths counted theirs.
    const spent = await answer(FORWARD_PATH, auth);
    expect(spent).toEqual(await answer(`${FORWARD_PATH}/`, auth));
    expect(spent.body.error).toBe('token_uses_exhausted');
  });

  it('refuses identically: no token, a malformed one, a forged one', async () => {
    const cases: RequestInit[] = [
      {},
      { headers: { authorization: 'Basic abc' } },
      { headers: { authorization: 'Bearer not.a.jwt' } },
      { headers: { authorization: `Bearer ${(await token()).slice(0, -4)}AAAA` } },
    ];
    for (const init of cases) {
      const fast = await answer(FORWARD_PATH, init);
      expect(fast).toEqual(await answer(`${FORWARD_PATH}/`, init));
      expect(fast.status).toBe(401);
      expect(fast.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(fast.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      expect(Object.keys(fast.body).sort()).toEqual(['error', 'message', 'reqId', 'statusCode']);
    }
  });

  it('answers 503 store_unavailable on both paths while Redis is down', async () => {
    const t = await token();
    await redis.kill();
    try {
      const auth = { headers: { authorization: `Bearer ${t}` } };
      const fast = await answer(FORWARD_PATH, auth);
      expect(fast).toEqual(await answer(`${FORWARD_PATH}/`, auth));
      expect(fast.status).toBe(503);
      expect(fast.body.error).toBe('store_unavailable');
    } finally {
      await redis.restart();
    }
  });
});

/**
 * The certificate login on its exact path (POST, with or without a query) is answered in front of
 * Koa by the same handler as the router's route (src/http/login.ts); a trailing slash goes through
 * Koa. Both must answer alike: the token document, no-store headers, X-Request-Id, and every
 * refusal with its code, status and headers (Retry-After of a rate limit).
 */
describe('login fast path answers exactly like the Koa route', () => {
  let gw: TestGateway;
  let header: string;
  let stranger: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    stranger = nginxEscaped(await mintCertificate({ subject: 'CN=stranger', issuer: pki.rogue }));
    gw = await startTestGatewayOn('redis', {
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem, scopes: ['a'], accessTokenTTL: 60 }],
      limits: { loginsPerIpPerMinute: 11 },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  async function answer(path: string, body: string, headers: Record<string, string> = {}) {
    const res = await fetch(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const doc = JSON.parse(await res.text());
    const reqId = res.headers.get('x-request-id');
    if (doc.reqId !== undefined) expect(doc.reqId).toBe(reqId);
    return {
      status: res.status,
      requestId: /^[0-9a-f-]{36}$/.test(reqId ?? ''),
      headers: Object.fromEntries(['cache-control', 'pragma', 'content-type', 'retry-after'].map((h) => [h, res.headers.get(h)])),
      keys: Object.keys(doc).sort(),
      error: doc.error,
      token: doc.accessToken as string | undefined,
    };
  }
  const same = (a: Awaited<ReturnType<typeof answer>>) => ({ ...a, token: typeof a.token });

  it('issues the same token document on both paths', async () => {
    const fast = await answer(LOGIN_PATH, '{}', { 'x-ssl-client-cert': header });
    const koa = await answer(`${LOGIN_PATH}/`, '{"identityId":"agents"}', { 'x-ssl-client-cert': header });
    expect(same(fast)).toEqual(same(koa));
    expect(fast.status).toBe(200);
    expect(fast.headers).toEqual({ 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': 'application/json; charset=utf-8', 'retry-after': null });
    expect(fast.keys).toEqual(['accessToken', 'accessTokenMaxTTL', 'expiresIn', 'tokenType']);
    expect(same(await answer(`${LOGIN_PATH}?x=1`, '', { 'x-ssl-client-cert': header })).status).toBe(200);
    // Both tokens work.
    for (const t of [fast.token, koa.token]) {
      expect((await fetch(gw.url + FORWARD_PATH, { headers: { authorization: `Bearer ${t}` } })).status).toBe(204);
    }
  });

  it('refuses identically: no certificate, bad JSON, a body too large, an unknown CA, then the address limit', async () => {
    const cases: [string, Record<string, string>, number, string][] = [
      ['{}', {}, 401, 'certificate_required'],
      ['{', { 'x-ssl-client-cert': header }, 400, 'invalid_json'],
      [JSON.stringify({ identityId: 'x'.repeat(20_000) }), { 'x-ssl-client-cert': header }, 413, 'body_too_large'],
      ['{}', { 'x-ssl-client-cert': stranger }, 401, 'chain_incomplete'],
    ];
    for (const [body, headers, status, error] of cases) {
      const fast = await answer(LOGIN_PATH, body, headers);
      expect(same(fast)).toEqual(same(await answer(`${LOGIN_PATH}/`, body, headers)));
      expect([fast.status, fast.error]).toEqual([status, error]);
      expect(fast.headers['cache-control']).toBe('no-store');
      expect(fast.keys).toEqual(['error', 'message', 'reqId', 'statusCode']);
    }
    // 11 per minute per address: 3 logins above and 8 refusals, each counted once; both paths refuse now.
    const fast = await answer(LOGIN_PATH, '{}', { 'x-ssl-client-cert': header });
    expect(same(fast)).toEqual(same(await answer(`${LOGIN_PATH}/`, '{}', { 'x-ssl-client-cert': header })));
    expect([fast.status, fast.error]).toEqual([429, 'rate_limited']);
    expect(Number(fast.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('leaves other methods on the exact path to Koa: 405 in the contract shape', async () => {
    const res = await fetch(gw.url + LOGIN_PATH);
    expect(res.status).toBe(405);
    expect((await res.json()).error).toBe('method_not_allowed');
  });
});
