import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { systemClock } from '../../src/util/clock.js';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem, type TestPki } from '../helpers/pki.js';

/** The admin identities API on one in-process gateway with the memory store: every refusal and its code. */
const ADMIN = 'admin-secret-0123456789';
const HASHED_ADMIN = 'another-admin-secret-0123';

describe('admin identities API', () => {
  let pki: TestPki;
  let gw: TestGateway;
  let url: string;
  let header: string;
  const lines: Record<string, any>[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    const dir = makeTempDir();
    writePem(dir, 'ca.pem', pki.rootA.pem);
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    gw = await startTestGateway(
      {
        admin: { tokens: [ADMIN, `sha256:${createHash('sha256').update(HASHED_ADMIN).digest('hex')}`] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'from-file', caCertificateFile: 'ca.pem', allowedCommonNames: ['nobody'] }],
      },
      { baseDir: dir, clock: systemClock, log: pino({ level: 'info' }, sink) },
    );
    url = `${gw.url}/api/v1/admin/identities`;
  });
  afterAll(async () => {
    await gw?.close();
  });

  const call = async (method: string, path: string, body?: unknown, token = ADMIN) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const valid = () => ({ caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'], scopes: ['a:b'] });

  type Body = (v: ReturnType<typeof valid>) => unknown;
  it.each<[string, Body, string, RegExp]>([
    ['unknown keys', (v) => ({ ...v, allowedCN: ['x'] }), 'identity_unknown_keys', /allowedCN/],
    ['a CA that is not PEM', (v) => ({ ...v, caCertificate: 'not a certificate' }), 'identity_invalid_ca', /caCertificate/],
    ['no CA at all', () => ({ allowedCommonNames: ['x'] }), 'identity_invalid_ca', /exactly one of caCertificate or caCertificateFile/],
    ['a CA file on the gateway', () => ({ caCertificateFile: 'ca.pem' }), 'identity_invalid_ca', /caCertificateFile: not allowed here/],
    ['CRL files on the gateway', (v) => ({ ...v, revocation: { crl: { files: ['x.crl'] } } }), 'identity_invalid', /revocation\.crl\.files: not allowed here/],
    ['a TTL above the max TTL', (v) => ({ ...v, accessTokenTTL: 100, accessTokenMaxTTL: 10 }), 'identity_invalid', /accessTokenTTL: must not exceed/],
    ['a body id unlike the path', (v) => ({ ...v, id: 'other' }), 'identity_id_mismatch', /must equal/],
    ['a body that is not JSON', () => '{"caCertificate":', 'invalid_json', /JSON/],
  ])('refuses %s with 400 and its code, storing nothing', async (_what, body, code, message) => {
    const res = await call('PUT', '/bad-one', body(valid()));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: code });
    expect(res.body.message).toMatch(message);
    expect((await call('GET', '/bad-one')).status).toBe(404);
  });

  it('names every problem of a refused document', async () => {
    const res = await call('PUT', '/bad-two', { ...valid(), accessTokenTTL: -1, loginTrustedIps: ['10.0.0.0/33'] });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/accessTokenTTL: .*; loginTrustedIps\.0: /);
  });

  it('refuses an invalid id, identities of the file (409), and unknown ids on DELETE (404)', async () => {
    expect((await call('PUT', '/Bad!Id', valid())).body.error).toBe('invalid_identity_id');
    const put = await call('PUT', '/from-file', valid());
    expect(put).toMatchObject({ status: 409, body: { error: 'identity_managed_by_config' } });
    expect((await call('DELETE', '/from-file')).body.error).toBe('identity_managed_by_config');
    expect(await call('DELETE', '/never-was')).toMatchObject({ status: 404, body: { error: 'identity_not_found' } });
    expect((await call('GET', '/from-file')).body).toMatchObject({ source: 'file', identity: { id: 'from-file', allowedCommonNames: ['nobody'] } });
  });

  it('refuses a missing or wrong admin token, and accepts one configured as sha256:<hex>', async () => {
    expect((await call('GET', '', undefined, 'wrong-secret-0123456789')).status).toBe(401);
    expect((await call('GET', '', undefined, HASHED_ADMIN)).status).toBe(200);
    // The digest itself is not a password.
    expect((await call('GET', '', undefined, createHash('sha256').update(HASHED_ADMIN).digest('hex'))).status).toBe(401);
  });

  it('creates (201), replaces (200), lists, logs in at once, deletes (204) and kills the tokens, auditing each change', async () => {
    const created = await call('PUT', '/api-one', valid());
    expect(created).toMatchObject({ status: 201, body: { source: 'api', identity: { id: 'api-one', scopes: ['a:b'] } } });
    const login = await postJson(`http://127.0.0.1:${gw.httpPort}${LOGIN_PATH}`, { identityId: 'api-one' }, { 'x-ssl-client-cert': header });
    expect(login.status).toBe(200);
    const token = login.body.accessToken as string;
    const replaced = await call('PUT', '/api-one', { ...valid(), id: 'api-one', scopes: ['c:d'] });
    expect(replaced.status).toBe(200);
    expect((await call('GET', '/api-one')).body).toEqual({ source: 'api', identity: { ...valid(), id: 'api-one', scopes: ['c:d'] } });
    expect((await call('GET', '')).body.identities).toEqual([
      { id: 'from-file', name: 'from-file', scopes: [], source: 'file' },
      { id: 'api-one', name: 'api-one', scopes: ['c:d'], source: 'api' },
    ]);
    const forward = () => getJson(`http://127.0.0.1:${gw.httpPort}/api/v1/auth/forward`, { authorization: `Bearer ${token}` });
    expect((await forward()).status).toBe(204);
    expect((await call('DELETE', '/api-one')).status).toBe(204);
    expect((await forward()).status).toBe(401);
    expect((await call('GET', '/api-one')).status).toBe(404);
    expect(lines.filter((l) => l.audit && l.event === 'admin_identity_put').map((l) => [l.identity, l.created])).toEqual([['api-one', true], ['api-one', false]]);
    expect(lines.filter((l) => l.audit && l.event === 'admin_identity_deleted').map((l) => l.identity)).toEqual(['api-one']);
  });
});
