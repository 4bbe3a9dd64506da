import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/http/server.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, type TestPki } from '../helpers/pki.js';

/**
 * What a reload changes, one in-process gateway with the memory store: trusted proxies, routes,
 * admin tokens and introspection clients take effect at once; restart-only settings are named
 * and keep their running values; a file identity takes precedence over an API one of the same id.
 */
describe('reload', () => {
  let pki: TestPki;
  let dir: string;
  let file: string;
  let gw: RunningGateway;
  let base: string;
  let upstream: Server;
  let upstreamPort: number;
  let header: string;

  const doc = (over: Record<string, unknown> = {}) => ({
    issuer: 'https://certgate.test',
    server: { host: '127.0.0.1', port: 0 },
    store: { url: 'memory' },
    keys: { dir: join(dir, 'keys') },
    admin: { tokens: ['old-admin-token-0123456789'] },
    introspection: { clients: [{ id: 'rs', secret: 'old-client-secret-0123' }] },
    trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
    identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
    ...over,
  });
  const write = (d: Record<string, unknown>) => writeFileSync(file, stringify(d));

  beforeAll(async () => {
    pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    dir = makeTempDir();
    file = join(dir, 'certgate.yaml');
    upstream = createServer((_req, res) => res.end('upstream answered'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
    write(doc());
    gw = await startGateway(loadConfigFile(file, {}), { configFile: file, log: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${gw.httpPort}`;
  });
  afterAll(async () => {
    await gw?.close();
    upstream?.close();
  });

  const admin = (token: string) => getJson(`${base}/api/v1/admin/identities`, { authorization: `Bearer ${token}` });
  const introspect = (secret: string) =>
    fetch(`${base}/oauth2/introspect`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`rs:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' });

  it('swaps trusted proxies, routes, admin tokens and introspection clients', async () => {
    const token = (await postJson(base + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).body.accessToken as string;
    expect((await getJson(`${base}/svc/thing`, { authorization: `Bearer ${token}` })).status).toBe(404);
    expect((await admin('old-admin-token-0123456789')).status).toBe(200);
    expect((await introspect('old-client-secret-0123')).status).toBe(200);

    write(doc({
      admin: { tokens: ['new-admin-token-0123456789'] },
      introspection: { clients: [{ id: 'rs', secret: 'new-client-secret-0123' }] },
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-client-cert-2', format: 'nginx' }],
      routes: [{ pathPrefix: '/svc', upstream: `http://127.0.0.1:${upstreamPort}` }],
    }));
    const result = await gw.reload('manual');
    expect(result).toMatchObject({ ok: true, changed: true, restartRequired: [] });

    expect((await admin('old-admin-token-0123456789')).status).toBe(401);
    expect((await admin('new-admin-token-0123456789')).status).toBe(200);
    expect((await introspect('old-client-secret-0123')).status).toBe(401);
    expect((await introspect('new-client-secret-0123')).status).toBe(200);
    expect((await postJson(base + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).body.error).toBe('certificate_required');
    expect((await postJson(base + LOGIN_PATH, {}, { 'x-client-cert-2': header })).status).toBe(200);
    const routed = await getJson(`${base}/svc/thing`, { authorization: `Bearer ${token}` });
    expect(routed).toMatchObject({ status: 200, body: 'upstream answered' });
  });

  it('applies new login limits at once', async () => {
    const before = await postJson(base + LOGIN_PATH, {}, { 'x-client-cert-2': header });
    expect(before.status).toBe(200);
    const identities = [{ id: 'agents', caCertificate: pki.rootA.pem }, { id: 'fresh', caCertificate: pki.rootA.pem }];
    write(doc({ trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-client-cert-2', format: 'nginx' }], identities, limits: { loginsPerIdentityPerMinute: 1 } }));
    expect((await gw.reload('manual')).ok).toBe(true);
    expect((await postJson(base + LOGIN_PATH, { identityId: 'fresh' }, { 'x-client-cert-2': header })).status).toBe(200);
    const limited = await postJson(base + LOGIN_PATH, { identityId: 'fresh' }, { 'x-client-cert-2': header });
    expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
  });

  it('refuses the tokens of an identity a reload removed, at once', async () => {
    write(doc({ trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-client-cert-2', format: 'nginx' }], identities: [{ id: 'agents', caCertificate: pki.rootA.pem }] }));
    expect((await gw.reload('manual')).ok).toBe(true);
    const token = (await postJson(base + LOGIN_PATH, { identityId: 'agents' }, { 'x-client-cert-2': header })).body.accessToken as string;
    const forward = () => getJson(`${base}/api/v1/auth/forward`, { authorization: `Bearer ${token}` });
    expect((await forward()).status).toBe(204);
    write(doc({ trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-client-cert-2', format: 'nginx' }], identities: [{ id: 'fresh', caCertificate: pki.rootA.pem }] }));
    expect((await gw.reload('manual')).ok).toBe(true);
    expect((await forward()).body.error).toBe('token_unknown');
    write(doc({ trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-client-cert-2', format: 'nginx' }] }));
    expect((await gw.reload('manual')).ok).toBe(true);
  });

  it('names restart-only settings and keeps their running values', async () => {
    write(doc({ server: { host: '127.0.0.1', port: 1, shutdownTimeout: 3 }, store: { url: 'redis://127.0.0.1:1' }, keys: { dir: join(dir, 'other-keys') }, audience: 'else' }));
    const result = await gw.reload('manual');
    expect(result).toMatchObject({ ok: true, restartRequired: ['server', 'store', 'keys.dir', 'audience'] });
    expect(gw.gateway.config.server.port).toBe(0);
    expect(gw.gateway.config.store.url).toBe('memory');
    expect(gw.gateway.config.audience).toBe('certgate');
    expect((await postJson(base + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).status).toBe(200);
  });

  it('refuses a file with several problems as a whole, naming each', async () => {
    const before = gw.gateway.live.current;
    write({ ...doc(), identities: [{ id: 'agents', caCertificate: 'nope' }, { id: 'Bad', caCertificate: pki.rootA.pem }], extra: 1 });
    const result = await gw.reload('manual');
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['(config)', 'identities.1.id']));
    expect(gw.gateway.live.current).toBe(before);
    write(doc());
    await gw.reload('manual');
    const caOnly = doc({ identities: [{ id: 'agents', caCertificate: 'nope' }, { id: 'two', caCertificate: 'nope either' }] });
    write(caOnly);
    const second = await gw.reload('manual');
    expect(second.ok ? [] : second.problems.map((p) => p.path)).toEqual(['identities.0.caCertificate', 'identities.1.caCertificate']);
    expect(gw.gateway.live.current.identityById.has('agents')).toBe(true);
    write(doc());
    expect((await gw.reload('manual')).ok).toBe(true);
  });

  it('lets a file identity take precedence over an API identity of the same id', async () => {
    const put = await fetch(`${base}/api/v1/admin/identities/shared`, {
      method: 'PUT',
      headers: { authorization: 'Bearer old-admin-token-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ caCertificate: pki.rootA.pem, name: 'from the API' }),
    });
    expect(put.status).toBe(201);
    write(doc({ identities: [{ id: 'agents', caCertificate: pki.rootA.pem }, { id: 'shared', caCertificate: pki.rootA.pem, name: 'from the file' }] }));
    expect((await gw.reload('manual')).ok).toBe(true);
    const list = (await admin('old-admin-token-0123456789')).body.identities as { id: string; name: string; source: string }[];
    expect(list.filter((i) => i.id === 'shared')).toEqual([{ id: 'shared', name: 'from the file', scopes: [], source: 'file' }]);
  });
});
