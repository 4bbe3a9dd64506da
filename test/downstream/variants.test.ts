/**
 * Issue 7, defect 8: what a route hands its upstream when the client spells a protected header
 * with underscores (CGI-style upstreams read X_Certgate_Identity as X-Certgate-Identity) or hides
 * traversal under a second layer of percent-encoding (an upstream that decodes once more sees
 * `..`). The upstream is a real HTTP server that answers with exactly what it received.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

interface Echo {
  url: string;
  /** Header names exactly as they arrived, with their values. */
  rawHeaders: [string, string][];
}

async function startEcho(): Promise<{ server: Server; seen: Echo[]; origin: string }> {
  const seen: Echo[] = [];
  const server = createServer((req, res) => {
    const rawHeaders: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    const echo = { url: req.url!, rawHeaders };
    seen.push(echo);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echo)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, seen, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Raw request: header names go out exactly as spelled, and the path is not normalised. */
function raw(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET', headers }, (r) => {
      let t = '';
      r.on('data', (d) => (t += d));
      r.on('end', () => resolve({ status: r.statusCode!, body: t ? JSON.parse(t) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The name a CGI/WSGI upstream gives a header. */
const cgi = (name: string) => name.toLowerCase().replace(/_/g, '-');

describe('downstream routes: header and path variants', () => {
  let gw: TestGateway;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let certHeader: string;
  const login = async () => (await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': certHeader, 'x-ssl-client-verify': 'SUCCESS' })).body.accessToken as string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    certHeader = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    echo = await startEcho();
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx', verifyHeader: 'x-ssl-client-verify' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem, scopes: ['echo'], accessTokenNumUsesLimit: 5 }],
      routes: [{ pathPrefix: '/echo', upstream: echo.origin, requiredScopes: ['echo'], upstreamAuth: { type: 'header', name: 'x-api-key', value: 'the-gateway-secret' } }],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await new Promise((r) => echo?.server.close(r));
  });

  it('strips underscore and mixed-case variants of identity, forwarding, certificate and credential headers', async () => {
    const token = await login();
    const sent = {
      authorization: `Bearer ${token}`,
      X_Certgate_Identity: 'root',
      'X-Certgate_Scopes': 'admin',
      x_forwarded_for: '6.6.6.6',
      X_Forwarded_Host: 'evil.example',
      x_real_ip: '6.6.6.6',
      x_ssl_client_cert: 'forged',
      X_SSL_CLIENT_VERIFY: 'SUCCESS',
      X_Forwarded_Client_Cert: 'Hash=00',
      x_amzn_mtls_clientcert: 'forged',
      X_Api_Key: 'client-chosen',
      Proxy_Authorization: 'Basic Zm9vOmJhcg==',
      Transfer_Encoding: 'chunked',
      // Control: an ordinary header with an underscore is the application's business.
      x_request_tag: 'kept',
    };
    const r = await raw(gw.url, '/echo/a', sent);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const got = (r.body as Echo).rawHeaders.map(([n, v]) => [cgi(n), v] as const);
    const valuesOf = (name: string) => got.filter(([n]) => n === name).map(([, v]) => v);
    // Each protected name arrives once, spelled as certgate wrote it, with certgate's value.
    expect(valuesOf('x-certgate-identity')).toEqual(['agents']);
    expect(valuesOf('x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(valuesOf('x-api-key')).toEqual(['the-gateway-secret']);
    for (const name of ['x-certgate-scopes', 'x-forwarded-host', 'x-real-ip', 'x-ssl-client-cert', 'x-ssl-client-verify', 'x-forwarded-client-cert', 'x-amzn-mtls-clientcert', 'proxy-authorization', 'authorization']) {
      expect(valuesOf(name), name).toEqual([]);
    }
    expect(valuesOf('transfer-encoding')).not.toContain('chunked');
    expect(valuesOf('x-request-tag')).toEqual(['kept']);
    expect((r.body as Echo).rawHeaders.some(([n]) => n.includes('_') && n !== 'x_request_tag')).toBe(false);
  });

  it.each([
    '/echo/%252e%252e/admin',
    '/echo/%252E%252e/admin',
    '/echo/.%252e/admin',
    '/echo/%252e%252e;x/admin',
    '/echo/a%252fb',
    '/echo/a%252F..%252Fadmin',
    '/echo/a%255cb',
    '/echo/%25252e%25252e/admin',
    '/echo/a%25252fb',
    // Overlong UTF-8 for `.` and `/`, which lenient decoders accept, under a second layer.
    '/echo/%25c0%25ae%25c0%25ae/admin',
    '/echo/a%25c0%25afb',
    '/echo/%25e0%2580%25ae',
    // Nested deeper than any upstream should decode: refused whatever it hides.
    '/echo/%252525252e',
  ])('refuses %s with 400 invalid_path before any use is taken or the upstream is called', async (path) => {
    const token = await login();
    const before = echo.seen.length;
    const r = await raw(gw.url, path, { authorization: `Bearer ${token}` });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ statusCode: 400, error: 'invalid_path', message: expect.any(String), reqId: expect.any(String) });
    expect(echo.seen.length).toBe(before);
    expect((await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` })).body.usesRemaining).toBe(5);
  });

  it.each(['/echo/100%25', '/echo/a%2520b', '/echo/%25zz', '/echo/file.v2..txt'])('forwards %s unchanged: an encoded percent sign hides no dot or slash', async (path) => {
    const token = await login();
    const r = await raw(gw.url, path, { authorization: `Bearer ${token}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((r.body as Echo).url).toBe(path);
  });
});
