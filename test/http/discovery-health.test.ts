import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

describe('discovery, health and metrics', () => {
  let gw: TestGateway;
  let header: string;
  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    gw = await startTestGateway({
      issuer: 'https://gateway.example.com/',
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
    });
  });
  afterAll(() => gw?.close());

  it('publishes OIDC discovery whose issuer is exactly the configured one, and a JWKS with kids', async () => {
    const d = await getJson(gw.url + '/.well-known/openid-configuration');
    expect(d.status).toBe(200);
    expect(d.body.issuer).toBe('https://gateway.example.com/');
    expect(d.body.jwks_uri).toBe('https://gateway.example.com/.well-known/jwks.json');
    expect(d.headers.get('cache-control')).toMatch(/max-age=900/);
    const jwks = await getJson(gw.url + '/.well-known/jwks.json');
    expect(jwks.body.keys).toHaveLength(1);
    const [key] = jwks.body.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key.d).toBeUndefined(); // never the private part
  });

  it('reports liveness and readiness', async () => {
    expect((await getJson(gw.url + '/healthz')).body).toEqual({ status: 'ok' });
    expect((await getJson(gw.url + '/readyz')).body).toEqual({ status: 'ready', store: 'memory' });
  });

  it('counts logins by outcome in Prometheus text', async () => {
    await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    await postJson(gw.url + LOGIN_PATH, {}, {});
    const res = await fetch(gw.url + '/metrics');
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(text).toMatch(/certgate_logins_total\{outcome="success",code=""\} 1/);
    expect(text).toMatch(/certgate_logins_total\{outcome="refused",code="certificate_required"\} 1/);
  });

  it('answers 503 metrics_unavailable, not a partial text, when the metrics cannot be gathered (a worker\'s sum)', async () => {
    const own = gw.gateway.metrics.exposition;
    gw.gateway.metrics.exposition = () => Promise.reject(new Error('worker 2 did not answer within 5000 ms'));
    try {
      const res = await getJson(gw.url + '/metrics');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'metrics_unavailable' });
    } finally {
      gw.gateway.metrics.exposition = own;
    }
    expect((await fetch(gw.url + '/metrics')).status).toBe(200);
  });

  it('answers unknown paths and wrong methods in the error shape', async () => {
    const nf = await getJson(gw.url + '/nope');
    expect(nf.status).toBe(404);
    expect(nf.body).toMatchObject({ statusCode: 404, error: 'not_found' });
    const wrong = await getJson(gw.url + LOGIN_PATH);
    expect(wrong.status).toBe(405);
    expect(wrong.body).toMatchObject({ statusCode: 405, error: 'method_not_allowed' });
  });
});
