/**
 * nginx `auth_request` in front of an ordinary web service, with certgate's forward-auth endpoint
 * deciding: real redis-server + the compiled certgate as its own process + a real nginx started from
 * proxy-configs/nginx-auth-request/nginx.conf.template + a tiny node:http application that records
 * every request it receives. Every case asserts how many requests reached the application.
 *
 * Address plan on loopback (the whole 127/8 is local on Linux):
 *   127.0.0.1  nginx's source address towards certgate (certgate's only trusted proxy); also this
 *              test when it logs in through certgate's trusted-proxy certificate header, and the
 *              default client of the protected site
 *   127.0.0.5  another client of the protected site, the only address the "remote-only" identity's
 *              tokens may be used from: reachable only if certgate sees X-Forwarded-For from nginx
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, writePem, type MintedCert } from '../helpers/pki.js';
import { PROXY_CONFIGS_DIR, startNginxTemplate, type NginxInstance, type TrustedProxyEntry } from '../helpers/terminators.js';

const TEMPLATE = 'nginx-auth-request/nginx.conf.template';
const LOGIN = '/api/v1/auth/tls-cert-auth/login';
const SELF = '/api/v1/auth/token/self';
const NGINX_SOURCE = '127.0.0.1';
const OTHER_CLIENT = '127.0.0.5';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

/** One HTTP request on a fresh connection; array header values go out as several field lines. */
function call(
  url: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: string; localAddress?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: false, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.once('error', reject);
    req.end(opts.body);
  });
}

interface Seen {
  method: string;
  url: string;
  peer: string;
  headers: Record<string, string[] | undefined>;
  body: string;
}

/** The protected application: records what reached it, answers 200 with it. */
async function startApp(): Promise<{ server: Server; seen: Seen[]; hostPort: string }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, peer: req.socket.remoteAddress ?? '', headers: req.headersDistinct, body };
      seen.push(s);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(s));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, seen, hostPort: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The shipped certgate side of the template, with its example CIDRs replaced. */
function shippedTrustedProxy(cidrs: string[]): TrustedProxyEntry {
  const file = join(PROXY_CONFIGS_DIR, 'nginx-auth-request', 'certgate.trusted-proxy.yaml');
  const doc = parseYaml(readFileSync(file, 'utf8')) as { trustedProxies: TrustedProxyEntry[] };
  expect(doc.trustedProxies).toHaveLength(1);
  return { ...doc.trustedProxies[0]!, cidrs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nginx auth_request in front of an application (proxy-configs/nginx-auth-request)', () => {
  let redis: RedisServer;
  let certgate: CertgateProcess;
  let nginx: NginxInstance;
  let app: Awaited<ReturnType<typeof startApp>>;
  let agent: MintedCert;
  let proxy: TrustedProxyEntry;

  beforeAll(async () => {
    const dir = makeTempDir('certgate-e2e-forward-auth-');
    const pki = await makeTestPki();
    agent = await pki.leaf({ cn: 'agent-1' });
    const bundleFile = writePem(dir, 'identity-bundle.pem', pki.rootA.pem + pki.interA.pem);
    const identity = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      caCertificateFile: bundleFile,
      allowedCommonNames: ['agent-*'],
      accessTokenTTL: 600,
      accessTokenMaxTTL: 3600,
      scopes: ['site:read', 'site:write'],
      ...extra,
    });
    proxy = shippedTrustedProxy([`${NGINX_SOURCE}/32`]);

    redis = await startRedis();
    certgate = await startCertgate({
      config: {
        store: { url: redis.url },
        trustedProxies: [proxy],
        identities: [
          identity('web'),
          identity('twice', { accessTokenNumUsesLimit: 2 }),
          identity('remote-only', { accessTokenNumUsesLimit: 5, accessTokenTrustedIps: [`${OTHER_CLIENT}/32`] }),
        ],
      },
    });
    app = await startApp();
    nginx = await startNginxTemplate({ template: TEMPLATE, vars: { CERTGATE_UPSTREAM: certgate.hostPort, APP_UPSTREAM: app.hostPort } });
  });

  afterAll(async () => {
    await nginx?.stop();
    await new Promise((r) => (app?.server ? app.server.close(r) : r(undefined)));
    await certgate?.stop();
    await redis?.stop();
  });

  afterEach(({ task }) => {
    if (task.result?.state !== 'fail') return;
    const tail = (name: string, p: { running: boolean; output(): string } | undefined) =>
      p ? `--- ${name} (${p.running ? 'running' : 'NOT RUNNING'}) ---\n${p.output().slice(-4000)}` : '';
    console.error([tail('certgate', certgate?.process), tail('nginx', nginx?.process), tail('redis', redis?.process)].join('\n'));
  });

  // The application's request log, per test.
  let before = 0;
  beforeEach(() => {
    before = app.seen.length;
  });
  const reachedApp = () => app.seen.slice(before);

  /** Logs in the way a trusted terminator would: from 127.0.0.1 with the forwarded certificate. */
  async function login(identityId: string): Promise<string> {
    const r = await call(`${certgate.url}${LOGIN}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [proxy.header]: encodeURIComponent(agent.pem) },
      body: JSON.stringify({ identityId }),
      localAddress: NGINX_SOURCE,
    });
    expect(r.status, r.text).toBe(200);
    return r.body.accessToken as string;
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  /** token/self on certgate directly (a lookup: no use consumed). */
  const self = (token: string, localAddress = NGINX_SOURCE) => call(`${certgate.url}${SELF}`, { headers: bearer(token), localAddress });
  const site = (path: string) => `${nginx.url}${path}`;

  function expectRefusal(r: Reply, status: number, error: string): void {
    expect(r.status, r.text).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toEqual({ statusCode: status, error, message: expect.any(String), reqId: expect.any(String) });
  }

  it('a valid token: the application is reached once, with certgate identity headers and no token', async () => {
    const token = await login('web');
    const r = await call(site('/orders?id=7'), { headers: { ...bearer(token), 'x-forwarded-for': '203.0.113.9' } });
    expect(r.status, r.text).toBe(200);
    expect(reachedApp()).toHaveLength(1);
    const seen = reachedApp()[0]!;
    expect(seen.url).toBe('/orders?id=7');
    expect(seen.headers['x-certgate-identity']).toEqual(['web']);
    expect(seen.headers['x-certgate-subject']).toHaveLength(1);
    expect(seen.headers['x-certgate-subject']![0]).toContain('agent-1');
    expect(seen.headers['x-certgate-scopes']).toEqual(['site:read site:write']);
    // The bearer token is not handed to the application; X-Forwarded-For is the real client.
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toEqual(['127.0.0.1']);
  });

  it('a POST body reaches the application untouched (the auth subrequest carries none)', async () => {
    const token = await login('web');
    const r = await call(site('/upload'), { method: 'POST', headers: { ...bearer(token), 'content-type': 'text/plain' }, body: 'hello body' });
    expect(r.status, r.text).toBe(200);
    expect(reachedApp()).toEqual([expect.objectContaining({ method: 'POST', url: '/upload', body: 'hello body' })]);
  });

  it('client-sent X-Certgate-* headers are overwritten with certgate\'s answer, underscore spellings dropped', async () => {
    const token = await login('web');
    const r = await call(site('/forged'), {
      headers: {
        ...bearer(token),
        'X-Certgate-Identity': ['admin', 'root'],
        'x-certgate-subject': 'CN=admin',
        'X-CERTGATE-SCOPES': 'everything',
        X_Certgate_Identity: 'admin',
      },
    });
    expect(r.status, r.text).toBe(200);
    expect(reachedApp()).toHaveLength(1);
    const { headers } = reachedApp()[0]!;
    expect(headers['x-certgate-identity']).toEqual(['web']);
    expect(headers['x-certgate-subject']!.join()).not.toContain('admin');
    expect(headers['x-certgate-scopes']).toEqual(['site:read site:write']);
    expect(Object.keys(headers).filter((k) => /certgate/i.test(k)).sort()).toEqual(['x-certgate-identity', 'x-certgate-scopes', 'x-certgate-subject']);
  });

  it('no token: 401 with WWW-Authenticate and a JSON body; the application is not reached', async () => {
    const r = await call(site('/orders'), { headers: { 'X-Certgate-Identity': 'admin' } });
    expectRefusal(r, 401, 'invalid_token');
    expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    // The request id is certgate's, so the refusal can be found in certgate's log.
    expect(r.body.reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(reachedApp()).toHaveLength(0);
  });

  it('a garbage or non-Bearer token: 401; the application is not reached', async () => {
    for (const authorization of ['Bearer garbage', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ3ZWIifQ.', 'Basic d2ViOndlYg==']) {
      const r = await call(site('/orders'), { headers: { authorization } });
      expectRefusal(r, 401, 'invalid_token');
      expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    }
    expect(reachedApp()).toHaveLength(0);
  });

  it('a token with 2 uses lets exactly 2 requests through; the 3rd is 401', async () => {
    const token = await login('twice');
    expect((await self(token)).body.usesRemaining).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(site(`/n/${i}`), { headers: bearer(token) })).status);
    expect(statuses).toEqual([200, 200, 401]);
    expect(reachedApp().map((s) => s.url)).toEqual(['/n/0', '/n/1']);
    const fourth = await call(site('/n/3'), { headers: bearer(token) });
    expectRefusal(fourth, 401, 'invalid_token');
    expect(reachedApp()).toHaveLength(2);
  });

  it('a token not allowed from the client address: 403, no use consumed; X-Forwarded-For cannot be spoofed', async () => {
    const token = await login('remote-only');
    // self is looked up from 127.0.0.5 directly (not a trusted proxy: certgate uses the peer).
    expect((await self(token, OTHER_CLIENT)).body.usesRemaining).toBe(5);

    const r = await call(site('/ip'), { headers: bearer(token) });
    expectRefusal(r, 403, 'forbidden');
    // A client claiming to be the allowed address changes nothing: nginx overwrites X-Forwarded-For.
    const spoofed = await call(site('/ip'), { headers: { ...bearer(token), 'x-forwarded-for': OTHER_CLIENT } });
    expectRefusal(spoofed, 403, 'forbidden');
    expect(reachedApp()).toHaveLength(0);
    expect((await self(token, OTHER_CLIENT)).body.usesRemaining).toBe(5);

    // From the allowed address, through the same nginx: certgate saw the client, not nginx.
    const ok = await call(site('/ip'), { headers: bearer(token), localAddress: OTHER_CLIENT });
    expect(ok.status, ok.text).toBe(200);
    expect(reachedApp()).toHaveLength(1);
    expect(reachedApp()[0]!.headers['x-forwarded-for']).toEqual([OTHER_CLIENT]);
    expect((await self(token, OTHER_CLIENT)).body.usesRemaining).toBe(4);
  });

  it('the auth subrequest location is internal: 404 from outside', async () => {
    const r = await call(site('/_certgate_auth'));
    expect(r.status).toBe(404);
    expect(reachedApp()).toHaveLength(0);
  });

  it('redis down: 503 and the application is not reached; after a restart it works again with a new login', async () => {
    const token = await login('web');
    const twice = await login('twice');
    expect((await call(site('/warm'), { headers: bearer(token) })).status).toBe(200);
    expect((await call(site('/warm'), { headers: bearer(twice) })).status).toBe(200);
    expect(reachedApp()).toHaveLength(2);

    await redis.kill();
    for (const t of [token, twice]) {
      const r = await call(site('/during-outage'), { headers: bearer(t) });
      expectRefusal(r, 503, 'auth_unavailable');
      expect(r.body.message).toContain('503');
    }
    expect(reachedApp()).toHaveLength(2);

    await redis.restart();
    // The ephemeral redis lost every record: old tokens are gone for good (certgate never re-creates
    // a record, README), so a fresh login is needed; it works as soon as certgate has reconnected.
    let fresh: string | undefined;
    for (let deadline = Date.now() + 15_000; !fresh && Date.now() < deadline; await sleep(200)) {
      const r = await call(`${certgate.url}${LOGIN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [proxy.header]: encodeURIComponent(agent.pem) },
        body: JSON.stringify({ identityId: 'web' }),
        localAddress: NGINX_SOURCE,
      });
      if (r.status === 200) fresh = r.body.accessToken;
      else expect(r.status, r.text).toBe(503);
    }
    expect(fresh, 'login after the redis restart').toBeDefined();
    const old = await call(site('/after-restart'), { headers: bearer(token) });
    expectRefusal(old, 401, 'invalid_token');
    const r = await call(site('/after-restart'), { headers: bearer(fresh!) });
    expect(r.status, r.text).toBe(200);
    expect(reachedApp().map((s) => s.url)).toEqual(['/warm', '/warm', '/after-restart']);
    expect(reachedApp()[2]!.headers['x-certgate-identity']).toEqual(['web']);
  });

  it('certgate down: 503 and the application is not reached (runs last: stops certgate)', async () => {
    const token = await login('web');
    await certgate.process.stop();
    const r = await call(site('/certgate-down'), { headers: bearer(token) });
    expectRefusal(r, 503, 'auth_unavailable');
    // Connection refused: nginx's own 502, and no certgate request id.
    expect(r.body.message).toContain('502');
    expect(r.body.reqId).toBe('');
    expect(reachedApp()).toHaveLength(0);
  });
});
