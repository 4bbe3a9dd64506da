/**
 * Forward-auth for Envoy ext_authz (HTTP service): Envoy appends the original request path to the
 * configured path prefix and allows the request only on 200, so `/api/v1/auth/forward/{anything}`
 * answers 200 with the identity headers; `/api/v1/auth/forward` itself keeps its 204 (nginx
 * auth_request, Traefik). Each counts one use.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/** Raw request so the path goes out exactly as Envoy would write it. */
function call(base: string, method: string, path: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(base);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers }, (r) => {
      let text = '';
      r.on('data', (d) => (text += d));
      r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('forward-auth: /forward (204) and /forward/{anything} (200, Envoy ext_authz)', () => {
  let gw: TestGateway;
  let header: string;
  const login = async () => (await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).body.accessToken as string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem, scopes: ['site:read'], accessTokenNumUsesLimit: 100 }],
    });
  });
  afterAll(() => gw?.close());

  it.each([
    ['GET', '/api/v1/auth/forward/'],
    ['GET', '/api/v1/auth/forward/orders/42'],
    ['GET', '/api/v1/auth/forward/orders/42?expand=items&x=%2F'],
    ['POST', '/api/v1/auth/forward/orders'],
    ['PUT', '/api/v1/auth/forward/a/b/c/'],
    ['DELETE', '/api/v1/auth/forward/forward'],
  ])('%s %s: 200 with the identity headers, one use', async (method, path) => {
    const token = await login();
    const r = await call(gw.url, method, path, { authorization: `Bearer ${token}` });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('');
    expect(r.headers['x-certgate-identity']).toBe('agents');
    expect(r.headers['x-certgate-subject']).toContain('agent-1');
    expect(r.headers['x-certgate-scopes']).toBe('site:read');
    expect((await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` })).body.usesRemaining).toBe(99);
  });

  it('/api/v1/auth/forward itself still answers 204, one use', async () => {
    const token = await login();
    const r = await call(gw.url, 'GET', '/api/v1/auth/forward', { authorization: `Bearer ${token}` });
    expect(r.status).toBe(204);
    expect(r.headers['x-certgate-identity']).toBe('agents');
    expect((await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` })).body.usesRemaining).toBe(99);
  });

  it('refuses a missing or bad token on /forward/{anything} with the JSON error and the Bearer challenge', async () => {
    for (const auth of [undefined, 'Bearer not-a-jwt']) {
      const r = await call(gw.url, 'GET', '/api/v1/auth/forward/orders', auth ? { authorization: auth } : {});
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text)).toEqual(expect.objectContaining({ statusCode: 401, error: expect.any(String), reqId: expect.any(String) }));
      expect(r.headers['x-certgate-identity']).toBeUndefined();
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    }
  });

  it('a token with N uses passes exactly N checks across both forms', async () => {
    const pki = await makeTestPki();
    const limited = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'three', caCertificate: pki.rootA.pem, accessTokenNumUsesLimit: 3 }],
    });
    try {
      const leaf = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
      const token = (await postJson(limited.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': leaf })).body.accessToken as string;
      const auth = { authorization: `Bearer ${token}` };
      const statuses = [];
      for (const path of ['/api/v1/auth/forward/a', '/api/v1/auth/forward', '/api/v1/auth/forward/b/c', '/api/v1/auth/forward/d']) {
        statuses.push((await call(limited.url, 'GET', path, auth)).status);
      }
      expect(statuses).toEqual([200, 204, 200, 401]);
    } finally {
      await limited.close();
    }
  });
});
