import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { redisKeys } from '../../src/store/redis-keys.js';
import { CERTGATE_MAIN, type CertgateProcess } from '../helpers/certgate-process.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem, type MintedCert, type TestPki } from '../helpers/pki.js';
import { DAY, HOUR, makeCrl } from './crl-fixtures.js';

/**
 * A revoked certificate revokes its tokens, on a fleet: two gateway processes (the compiled CLI)
 * share one real redis-server. An admin revoke on one gateway, the CLI, and a CRL file that starts
 * listing a certificate each kill the certificate's tokens on both gateways and refuse its logins.
 */
const ADMIN = { authorization: 'Bearer admin-secret-0123456789' };
const REVOKE = '/api/v1/admin/certificates/revoke';
const shaOf = (c: MintedCert) => createHash('sha256').update(c.der).digest('hex');

describe('certificate revocation on two gateways sharing one Redis', () => {
  let pki: TestPki;
  let fleet: Fleet<CertgateProcess>;
  let raw: Redis;
  let a: CertgateProcess;
  let b: CertgateProcess;
  let dir: string;
  let crlFile: string;
  const t0 = Date.now();

  const crl = (revoked: MintedCert[]) => makeCrl(pki.interA, { revoked, thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + DAY) });

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = makeTempDir('certgate-certrevoke-');
    crlFile = join(dir, 'inter-a.crl');
    writeFileSync(crlFile, await crl([]));
    fleet = await startFleet({
      size: 2,
      config: {
        log: { level: 'info' },
        admin: { tokens: ['admin-secret-0123456789'] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [
          // Two identities the same certificates satisfy: a certificate's tokens die whatever identity they are for.
          { id: 'agents', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'], revocation: { crl: { files: [crlFile] } } },
          { id: 'plain', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] },
        ],
      },
    });
    [a, b] = fleet.gateways as [CertgateProcess, CertgateProcess];
    raw = new Redis(fleet.redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await fleet?.stop();
  });

  const login = (gw: CertgateProcess, leaf: MintedCert, identityId = 'agents') =>
    postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': nginxEscaped(leaf, pki.interA) });
  const token = async (gw: CertgateProcess, leaf: MintedCert, identityId = 'agents') => {
    const res = await login(gw, leaf, identityId);
    expect(res.status).toBe(200);
    return res.body.accessToken as string;
  };
  const call = (gw: CertgateProcess, t: string) => getJson(`${gw.url}/api/v1/auth/forward`, { authorization: `Bearer ${t}` });
  /** The answer code of a call with `t` on each gateway. */
  const onBoth = async (t: string) => Promise.all([a, b].map(async (gw) => {
    const r = await call(gw, t);
    return r.status === 204 ? 'ok' : `${r.status} ${r.body.error}`;
  }));
  const loginOnBoth = async (leaf: MintedCert) => Promise.all([a, b].map(async (gw) => {
    const r = await login(gw, leaf);
    return r.status === 200 ? 'ok' : `${r.status} ${r.body.error}`;
  }));

  it('an admin revoke by SHA-256 on gateway A kills the certificate\'s tokens on A and B and refuses its logins on both', async () => {
    const leaf = await pki.leaf({ cn: 'agent-admin' });
    const bystander = await pki.leaf({ cn: 'agent-bystander' });
    const tokens = [await token(a, leaf), await token(b, leaf), await token(b, leaf, 'plain')];
    const other = await token(a, bystander);
    for (const t of tokens) expect(await onBoth(t)).toEqual(['ok', 'ok']);

    const sha256 = shaOf(leaf);
    const res = await postJson(a.url + REVOKE, { sha256: sha256.toUpperCase().match(/../g)!.join(':') }, ADMIN);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      revokedTokens: 3,
      certificates: [{ sha256, issuer: 'CN=Test Intermediate A, O=certgate tests', serial: expect.any(String), notAfter: leaf.cert.notAfter.toISOString() }],
    });
    for (const t of tokens) expect(await onBoth(t)).toEqual(['401 token_revoked', '401 token_revoked']);
    expect((await postJson(`${b.url}/api/v1/auth/token/renew`, { accessToken: tokens[0] })).body.error).toBe('token_revoked');
    expect(await loginOnBoth(leaf)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
    expect((await login(b, leaf, 'plain')).body.error).toBe('certificate_revoked');
    // Nobody else is touched.
    expect(await onBoth(other)).toEqual(['ok', 'ok']);
    expect(await loginOnBoth(bystander)).toEqual(['ok', 'ok']);

    // A second revoke finds nothing left to revoke.
    expect((await postJson(b.url + REVOKE, { sha256 }, ADMIN)).body.revokedTokens).toBe(0);
    const metrics = (await getJson(a.url + '/metrics')).body as string;
    expect(metrics).toMatch(/certgate_certificate_revocations_total\{source="admin-api"\} 1/);
    expect(metrics).toMatch(/certgate_certificate_revoked_tokens_total\{source="admin-api"\} 3/);
    // The marker lasts exactly until the certificate's notAfter.
    expect(await raw.pexpiretime(redisKeys().revokedCert(sha256))).toBe(leaf.cert.notAfter.getTime());
  });

  it('an admin revoke by issuer and serial does the same', async () => {
    const leaf = await pki.leaf({ cn: 'agent-serial' });
    const t = await token(b, leaf);
    const serial = leaf.cert.serialNumber.toUpperCase().match(/../g)!.join(':');
    const res = await postJson(b.url + REVOKE, { issuer: 'CN=Test Intermediate A,O=certgate tests', serial }, ADMIN);
    expect(res.status).toBe(200);
    expect(res.body.revokedTokens).toBe(1);
    expect(await onBoth(t)).toEqual(['401 token_revoked', '401 token_revoked']);
    expect(await loginOnBoth(leaf)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
  });

  it('a revoke for a certificate never seen answers 200 with 0 tokens, and its logins are refused on both gateways', async () => {
    const unseen = await pki.leaf({ cn: 'agent-unseen', notAfter: new Date(Math.floor((t0 + 800 * DAY) / 1000) * 1000) });
    const sha256 = shaOf(unseen);
    const res = await postJson(a.url + REVOKE, { sha256 }, ADMIN);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revokedTokens: 0, certificates: [] });
    // Kept for one year: the certificate's notAfter is unknown.
    const expiry = await raw.pexpiretime(redisKeys().revokedCert(sha256));
    expect(Math.abs(expiry - (Date.now() + 365 * DAY))).toBeLessThan(10 * 60_000);
    expect(await loginOnBoth(unseen)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
    // Its login attempt told certgate the notAfter (800 days out): refused until then.
    expect(await raw.pexpiretime(redisKeys().revokedCert(sha256))).toBe(unseen.cert.notAfter.getTime());
    expect(await loginOnBoth(unseen)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
  });

  it('refuses bad input with 400 and a code, and callers without the admin token with 401', async () => {
    const sha256 = 'ab'.repeat(32);
    const cases: [unknown, number, string][] = [
      [{}, 400, 'invalid_certificate_selector'],
      [{ sha256, issuer: 'CN=x', serial: '01' }, 400, 'invalid_certificate_selector'],
      [{ issuer: 'CN=Test Intermediate A, O=certgate tests' }, 400, 'invalid_certificate_selector'],
      [{ sha256: 'xyz' }, 400, 'invalid_sha256'],
      [{ sha256: 'ab'.repeat(31) }, 400, 'invalid_sha256'],
      [{ sha256: 42 }, 400, 'invalid_sha256'],
      [{ issuer: 'garbage', serial: '01' }, 400, 'invalid_issuer'],
      [{ issuer: ' CN = x ', serial: '01' }, 400, 'invalid_issuer'],
      [{ issuer: 'CN=Test Intermediate A, O=certgate tests', serial: 'zz' }, 400, 'invalid_serial'],
      [{ issuer: 'CN=Test Intermediate A, O=certgate tests', serial: 'ab'.repeat(33) }, 400, 'invalid_serial'],
      [{ sha256, reason: 'keyCompromise' }, 400, 'invalid_body'],
      ['{not json', 400, 'invalid_json'],
    ];
    for (const [body, status, error] of cases) {
      const res = await postJson(a.url + REVOKE, body, ADMIN);
      expect({ body, status: res.status, error: res.body.error }).toEqual({ body, status, error });
      expect(res.body).toMatchObject({ statusCode: status, message: expect.any(String), reqId: expect.any(String) });
    }
    const anonymous = await postJson(a.url + REVOKE, { sha256 });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('admin_unauthorized');
    // Nothing was marked by any of them.
    expect(await raw.exists(redisKeys().revokedCert(sha256))).toBe(0);
  });

  it('a CRL file that starts listing a certificate kills its tokens on both gateways, without any login', async () => {
    const leaf = await pki.leaf({ cn: 'agent-crl' });
    const stays = await pki.leaf({ cn: 'agent-crl-stays' });
    const tokens = [await token(a, leaf), await token(b, leaf), await token(a, leaf, 'plain')];
    const other = await token(b, stays);
    for (const t of tokens) expect(await onBoth(t)).toEqual(['ok', 'ok']);

    writeFileSync(crlFile, await crl([leaf]));
    // The background refresh re-reads CRL files every 2 s on each gateway.
    await vi.waitFor(async () => {
      for (const t of tokens) expect(await onBoth(t)).toEqual(['401 token_revoked', '401 token_revoked']);
    }, { timeout: 10_000, interval: 200 });
    expect(await onBoth(other)).toEqual(['ok', 'ok']);
    // Refused by marker even for the identity that checks no CRL.
    expect((await login(a, leaf, 'plain')).body.error).toBe('certificate_revoked');
    expect((await login(b, leaf, 'plain')).body.error).toBe('certificate_revoked');
    const metrics = `${(await getJson(a.url + '/metrics')).body}${(await getJson(b.url + '/metrics')).body}`;
    expect(metrics).toMatch(/certgate_certificate_revoked_tokens_total\{source="crl"\} 3/);
  });

  it('certgate tokens revoke-certificate --cert FILE kills the tokens on both gateways and refuses the logins', async () => {
    const leaf = await pki.leaf({ cn: 'agent-cli' });
    const certFile = writePem(dir, 'agent-cli.pem', leaf.pem);
    const tokens = [await token(a, leaf), await token(b, leaf)];
    const r = spawnSync(process.execPath, [CERTGATE_MAIN, 'tokens', 'revoke-certificate', '--cert', certFile, '--config', a.configFile], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: '', CERTGATE_CONFIG: '' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^revoked certificate [0-9a-f]{64}: 2 token\(s\) revoked\n$/);
    // The audit line goes to stderr.
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toMatchObject({ audit: true, event: 'certificate_revoked', source: 'cli', tokens: 2 });
    for (const t of tokens) expect(await onBoth(t)).toEqual(['401 token_revoked', '401 token_revoked']);
    expect(await loginOnBoth(leaf)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
    // A certificate never seen: the file gives its notAfter, and the marker lasts exactly until then.
    const unseen = await pki.leaf({ cn: 'agent-cli-file-unseen', notAfter: new Date(Math.floor((t0 + 30 * DAY) / 1000) * 1000) });
    const unseenFile = writePem(dir, 'agent-cli-unseen.pem', unseen.pem);
    expect(spawnSync(process.execPath, [CERTGATE_MAIN, 'tokens', 'revoke-certificate', '--cert', unseenFile, '--config', a.configFile], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: '', CERTGATE_CONFIG: '' },
    }).status).toBe(0);
    expect(await raw.pexpiretime(redisKeys().revokedCert(shaOf(unseen)))).toBe(unseen.cert.notAfter.getTime());
    expect(await loginOnBoth(unseen)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
  });

  it('certgate tokens revoke-certificate --sha256 HEX marks a certificate never seen; bad input exits 2', async () => {
    const unseen = await pki.leaf({ cn: 'agent-cli-unseen' });
    const sha256 = shaOf(unseen);
    const run = (...args: string[]) => spawnSync(process.execPath, [CERTGATE_MAIN, 'tokens', 'revoke-certificate', ...args, '--config', a.configFile], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: '', CERTGATE_CONFIG: '' },
    });
    const r = run('--sha256', sha256);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('0 token(s) revoked (never seen by this store');
    const expiry = await raw.pexpiretime(redisKeys().revokedCert(sha256));
    expect(Math.abs(expiry - (Date.now() + 365 * DAY))).toBeLessThan(10 * 60_000);
    expect(await loginOnBoth(unseen)).toEqual(['401 certificate_revoked', '401 certificate_revoked']);
    expect(run('--sha256', 'nothex').status).toBe(2);
    expect(run().status).toBe(2);
    expect(run('--sha256', sha256, '--cert', 'x.pem').status).toBe(2);
  });
});
