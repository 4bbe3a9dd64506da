import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { makeTestPki, nginxEscaped, type TestPki } from '../helpers/pki.js';

/**
 * A stand-in for le-cert-server in JWT mode, doing what downstream.md says it does: discovery once
 * at startup (jwks_uri only), then per request: kid in the JWKS, iss exact, aud contains its
 * audience, exp/nbf/iat with no skew, scope as a space-separated string, a domains claim.
 */
async function startLeCertServerLike(port: number, issuer: string) {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ headers: req.headers, body });
    try {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')![1]!;
      const { payload } = await jwtVerify(token, jwks, { issuer, audience: 'https://le-cert-server', algorithms: ['ES256'], clockTolerance: 0 });
      const domain = JSON.parse(body).domain as string;
      const scoped = String(payload.scope).split(' ').includes('certificates:request');
      const allowed = (payload.domains as string[]).some((d) => d === domain || (d.startsWith('*.') && domain.endsWith(d.slice(1))));
      if (!scoped || !allowed) {
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'forbidden', message: 'domain not allowed' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'le' }).end(JSON.stringify({ domain, cached: false, path: req.url }));
    } catch {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
    }
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    seen,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

describe('downstream routes', () => {
  let pki: TestPki;
  let gw: TestGateway;
  let upstream: Awaited<ReturnType<typeof startLeCertServerLike>>;
  let token: string;
  let noScope: string;
  let header: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    const cert = await pki.leaf({ cn: 'agent-1' });
    header = nginxEscaped(cert, pki.interA);
    const ca = pki.rootA.pem;
    const port = await freePort();
    // The gateway is its own issuer here so the upstream can discover it over loopback.
    const issuer = `http://127.0.0.1:${port}`;
    const upstreamPort = await freePort();
    gw = await startTestGateway({
      issuer,
      server: { port },
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [
        { id: 'agents', caCertificate: ca, allowedCommonNames: ['agent-*'], scopes: ['certificates:request'], claims: { domains: ['*.ci.example.com'] }, accessTokenNumUsesLimit: 2 },
        { id: 'readers', caCertificate: ca, scopes: ['read'] },
      ],
      routes: [
        { pathPrefix: '/api/certificate', upstream: `http://127.0.0.1:${upstreamPort}`, requiredScopes: ['certificates:request'], upstreamAuth: { type: 'jwt', audience: 'https://le-cert-server', ttl: 60 } },
        // Listed after the broader route on purpose: the longer prefix must still win.
        { pathPrefix: '/api/certificate/admin', upstream: `http://127.0.0.1:${upstreamPort}`, requiredScopes: ['certificates:admin'], upstreamAuth: { type: 'jwt', audience: 'https://le-cert-server', ttl: 60 } },
      ],
    }, { clock: { now: () => Date.now() } });
    upstream = await startLeCertServerLike(upstreamPort, issuer);
    token = (await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': header })).body.accessToken;
    noScope = (await postJson(gw.url + LOGIN_PATH, { identityId: 'readers' }, { 'x-ssl-client-cert': header })).body.accessToken;
  });
  afterAll(async () => {
    await upstream?.close();
    await gw?.close();
  });

  it('carries a certificate request to the upstream with a per-call JWT it verifies through discovery', async () => {
    const res = await postJson(gw.url + '/api/certificate', { domain: 'a.ci.example.com' }, { authorization: `Bearer ${token}`, 'x-ssl-client-cert': header });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ domain: 'a.ci.example.com', path: '/api/certificate' });
    expect(res.headers.get('x-upstream')).toBe('le');
    const last = upstream.seen.at(-1)!;
    // The caller's own token and certificate header never reach the upstream.
    expect(last.headers.authorization).not.toContain(token);
    expect(last.headers['x-ssl-client-cert']).toBeUndefined();
    expect(last.headers['x-certgate-identity']).toBe('agents');
    expect((await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` })).body.usesRemaining).toBe(1);
  });

  it('keeps client-sent identity, forwarding and certificate headers away from the upstream', async () => {
    const fresh = (await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': header })).body.accessToken;
    const res = await postJson(gw.url + '/api/certificate', { domain: 'b.ci.example.com' }, {
      authorization: `Bearer ${fresh}`,
      'x-certgate-identity': 'root',
      'x-certgate-scopes': 'admin',
      forwarded: 'for=1.1.1.1',
      'x-forwarded-host': 'evil.example',
      'x-real-ip': '1.1.1.1',
      'x-forwarded-client-cert': 'Hash=00',
      'x-amzn-mtls-clientcert': 'forged',
      'x-forwarded-for': '1.1.1.1',
    });
    expect(res.status).toBe(200);
    const h = upstream.seen.at(-1)!.headers;
    expect(h['x-certgate-identity']).toBe('agents');
    for (const name of ['x-certgate-scopes', 'forwarded', 'x-forwarded-host', 'x-real-ip', 'x-forwarded-client-cert', 'x-amzn-mtls-clientcert']) expect(h[name], name).toBeUndefined();
    // This caller is itself a trusted proxy, so its X-Forwarded-For names the client: certgate
    // passes on exactly that one address, computed, not the client's header.
    expect(h['x-forwarded-for']).toBe('1.1.1.1');
  });

  it.each([
    '/api/certificate/../admin/x',
    '/api/certificate/%2e%2e/%2E%2E/internal',
    '/api/certificate/..;/admin',
    '/api/certificate/a%2fb',
    '/api/certificate/a%5c..%5cb',
    '/api/certificate//x',
  ])('refuses %s with 400 before any use is taken or the upstream is called', async (path) => {
    const fresh = (await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': header })).body.accessToken;
    const before = upstream.seen.length;
    const res = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      // Raw request: fetch would normalise the dot segments before they reach the gateway.
      const { hostname, port } = new URL(gw.url);
      const req = httpRequest({ hostname, port, path, method: 'GET', headers: { authorization: `Bearer ${fresh}` } }, (r) => {
        let t = '';
        r.on('data', (d) => (t += d));
        r.on('end', () => resolve({ status: r.statusCode!, body: JSON.parse(t) }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_path');
    expect(upstream.seen.length).toBe(before);
    expect((await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${fresh}` })).body.usesRemaining).toBe(2);
  });

  it('routes by the longest prefix, so a stricter sub-route is not shadowed', async () => {
    const fresh = (await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': header })).body.accessToken;
    const res = await postJson(gw.url + '/api/certificate/admin/revoke', { domain: 'a.ci.example.com' }, { authorization: `Bearer ${fresh}` });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
  });

  it('passes the upstream refusal through (domain outside the claim)', async () => {
    const res = await postJson(gw.url + '/api/certificate', { domain: 'evil.example.org' }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
  });

  it('refuses a token without the route scope with 403, before any use is taken or the upstream is called', async () => {
    const before = upstream.seen.length;
    const res = await postJson(gw.url + '/api/certificate', { domain: 'a.ci.example.com' }, { authorization: `Bearer ${noScope}` });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect(upstream.seen.length).toBe(before);
  });

  it('refuses a call without a token', async () => {
    const res = await postJson(gw.url + '/api/certificate', { domain: 'a.ci.example.com' });
    expect(res.status).toBe(401);
  });

  it('answers 502 when the upstream is down', async () => {
    await upstream.close();
    const fresh = (await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': header })).body.accessToken;
    const res = await postJson(gw.url + '/api/certificate', { domain: 'a.ci.example.com' }, { authorization: `Bearer ${fresh}` });
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('upstream_unavailable');
  });
});
