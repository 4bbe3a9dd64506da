/**
 * The migration guides, run: docs/migrate-from-infisical.md and docs/migrate-from-vault.md.
 * Their YAML blocks are the configuration of a real certgate process (redis-server, the compiled
 * gateway with its mTLS listener). Infisical: its documented login request, sent by curl over
 * mTLS and through Infisical's forwarded-certificate header, answered in Infisical's shape; then
 * renew and revoke in Infisical's shapes. Vault: a role translated to an identity validates and
 * behaves like the role (common names, DNS SANs, token_num_uses, token_bound_cidrs), logged in
 * with `certgate login`, the counterpart the guide gives for `vault login -method=cert`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mintCertificate, type MintedCert } from '../../src/pki/mint.js';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { LOGIN_PATH } from '../helpers/gateway.js';
import { ensureBinary, makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, writePem, type TestPki } from '../helpers/pki.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT } from '../helpers/terminators.js';

const guide = (name: string) => readFileSync(join(REPO_ROOT, 'docs', name), 'utf8');
const yamlBlocks = (text: string) => [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, any>);

const INFISICAL_ID = '0b3c6a1e-5f2d-4c8b-9a7e-2d1f3c4b5a69';
const INFISICAL_HEADER = 'x-identity-tls-cert-auth-client-cert';
/** The answer Infisical documents for login and renew: exactly these keys. */
const INFISICAL_TOKEN_KEYS = ['accessToken', 'accessTokenMaxTTL', 'expiresIn', 'tokenType'];

/** Requests from another loopback address: a peer outside the guide's trusted CIDRs. */
const fromOutside = new Agent({ localAddress: '127.0.0.2' });

type Init = { method?: string; headers?: Record<string, string>; body?: string; dispatcher?: Agent };

async function call(url: string, init: Init = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const postJson = (url: string, body: unknown, headers: Record<string, string> = {}, dispatcher?: Agent) =>
  call(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), dispatcher });

describe('migration guides, run against a real certgate', () => {
  let pki: TestPki;
  let dir: string;
  let redis: RedisServer;
  let certgate: CertgateProcess;
  let tlsUrl: string;
  let vaultCa: MintedCert;
  const files = (name: string, c: MintedCert, chain: MintedCert[] = []) => ({
    cert: writePem(dir, `${name}.pem`, [c, ...chain].map((x) => x.pem).join('')),
    key: writePem(dir, `${name}-key.pem`, c.keyPem),
  });

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = makeTempDir('certgate-migration-');
    // Each guide's CA lives in its own file named ca.pem there; here one file per guide.
    vaultCa = await mintCertificate({ subject: 'CN=Vault role CA', ca: true });
    const infisicalCaFile = writePem(dir, 'infisical-ca.pem', pki.rootA.pem + pki.interA.pem);
    const vaultCaFile = writePem(dir, 'vault-ca.pem', vaultCa.pem);
    const [infisical] = yamlBlocks(guide('migrate-from-infisical.md'));
    const [vault] = yamlBlocks(guide('migrate-from-vault.md'));
    const withCa = (identities: any[], file: string) => identities.map((i) => ({ ...i, caCertificateFile: i.caCertificateFile === 'ca.pem' ? file : i.caCertificateFile }));
    redis = await startRedis();
    const tlsPort = await freePort();
    certgate = await startCertgate({
      dir,
      config: {
        store: { url: redis.url },
        server: { tls: { port: tlsPort, cert: writePem(dir, 'server.pem', pki.server.pem), key: writePem(dir, 'server-key.pem', pki.server.keyPem) } },
        trustedProxies: infisical!.trustedProxies,
        identities: [...withCa(infisical!.identities, infisicalCaFile), ...withCa(vault!.identities, vaultCaFile)],
      },
    });
    tlsUrl = `https://127.0.0.1:${tlsPort}`;
  });
  afterAll(async () => {
    await fromOutside.close();
    await certgate?.stop();
    await redis?.stop();
  });

  describe('Infisical TLS Certificate Auth', () => {
    /** Infisical's documented login, sent by curl with the client certificate (direct mTLS). */
    function curlLogin(certFile: string, keyFile: string, body: unknown): { status: number; body: any } {
      const out = execFileSync(ensureBinary('curl', 'curl'), [
        '-sS', '--cert', certFile, '--key', keyFile, '--cacert', writePem(dir, 'server-ca.pem', pki.rootA.pem),
        '-X', 'POST', `${tlsUrl}${LOGIN_PATH}`,
        '-H', 'Content-Type: application/json', '--data', JSON.stringify(body),
        '-w', '\n%{http_code}',
      ], { encoding: 'utf8' });
      const nl = out.lastIndexOf('\n');
      return { status: Number(out.slice(nl + 1)), body: JSON.parse(out.slice(0, nl)) };
    }

    it('answers Infisical’s login request {identityId, organizationSlug} over mTLS in Infisical’s shape', async () => {
      const agent = files('agent-1', await pki.leaf({ cn: 'agent-1' }), [pki.interA]);
      const res = curlLogin(agent.cert, agent.key, { identityId: INFISICAL_ID, organizationSlug: 'acme' });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(INFISICAL_TOKEN_KEYS);
      expect(res.body).toMatchObject({ expiresIn: 600, accessTokenMaxTTL: 3600, tokenType: 'Bearer' });
      const self = await call(`${certgate.url}/api/v1/auth/token/self`, { headers: { authorization: `Bearer ${res.body.accessToken}` } });
      expect(self.body).toMatchObject({ identityId: INFISICAL_ID, usesRemaining: null });
    });

    it('reads Infisical’s forwarded header (URL-encoded PEM) from the trusted CIDRs only', async () => {
      const leaf = await pki.leaf({ cn: 'agent-2' });
      const header = { [INFISICAL_HEADER]: encodeURIComponent(leaf.pem + pki.interA.pem) };
      const body = { identityId: INFISICAL_ID, organizationSlug: 'acme' };
      const trusted = await postJson(`${certgate.url}${LOGIN_PATH}`, body, header);
      expect(trusted.status).toBe(200);
      expect(Object.keys(trusted.body).sort()).toEqual(INFISICAL_TOKEN_KEYS);
      // Infisical reads this header from any peer; certgate only from the balancer's addresses.
      const outside = await postJson(`${certgate.url}${LOGIN_PATH}`, body, header, fromOutside);
      expect(outside.status).toBe(401);
      expect(outside.body.error).toBe('untrusted_proxy');
    });

    it('renews and revokes in Infisical’s shapes', async () => {
      const agent = files('agent-1b', await pki.leaf({ cn: 'agent-1' }), [pki.interA]);
      const login = curlLogin(agent.cert, agent.key, { identityId: INFISICAL_ID });
      const renewed = await postJson(`${certgate.url}/api/v1/auth/token/renew`, { accessToken: login.body.accessToken });
      expect(renewed.status).toBe(200);
      expect(Object.keys(renewed.body).sort()).toEqual(INFISICAL_TOKEN_KEYS);
      expect(renewed.body.tokenType).toBe('Bearer');
      const revoked = await postJson(`${certgate.url}/api/v1/auth/token/revoke`, { accessToken: renewed.body.accessToken });
      expect(revoked.status).toBe(200);
      expect(Object.keys(revoked.body)).toEqual(['message']);
      const after = await call(`${certgate.url}/api/v1/auth/token/self`, { headers: { authorization: `Bearer ${login.body.accessToken}` } });
      expect(after.status).toBe(401);
      expect(after.body.error).toBe('token_revoked');
    });

    it('compares the translated allowedCommonNames list by name, as Infisical compares its comma-separated string', async () => {
      const other = files('agent-3', await pki.leaf({ cn: 'agent-3' }), [pki.interA]);
      const res = curlLogin(other.cert, other.key, { identityId: INFISICAL_ID });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('common_name_not_allowed');
    });

    it('check-cert (step 2 of the guide) names the identity a certificate would log in as, or the refusal', async () => {
      const ok = files('agent-1c', await pki.leaf({ cn: 'agent-1' }), [pki.interA]);
      expect(run(['check-cert', '--cert', ok.cert, '--config', certgate.configFile])).toContain(`would log in as identity "${INFISICAL_ID}"`);
      const other = files('agent-3c', await pki.leaf({ cn: 'agent-3' }), [pki.interA]);
      expect(run(['check-cert', '--cert', other.cert, '--config', certgate.configFile], true)).toMatch(/^refused: common_name_not_allowed/m);
    });
  });

  describe('Vault cert auth role → certgate identity', () => {
    const webLeaf = (cn: string, dns: string[]) =>
      mintCertificate({ subject: `CN=${cn}`, issuer: vaultCa, san: dns.map((value) => ({ type: 'dns' as const, value })) });

    /** `certgate login`, the guide's counterpart of `vault login -method=cert … name=web`. */
    function certgateLogin(c: { cert: string; key: string }): { status: number; body: any } {
      try {
        const out = run(['login', '--cert', c.cert, '--key', c.key, '--cacert', writePem(dir, 'server-ca.pem', pki.rootA.pem), '--url', tlsUrl, '--identity', 'web']);
        return { status: 200, body: JSON.parse(out) };
      } catch (e) {
        return { status: 401, body: JSON.parse((e as { stdout: string }).stdout) };
      }
    }

    it('the translated identity validates: check-cert accepts a certificate the role accepts', async () => {
      const web = files('web-1', await webLeaf('web-1', ['build.ci.example.com']));
      expect(run(['check-cert', '--cert', web.cert, '--config', certgate.configFile, '--identity', 'web'])).toContain('would log in as identity "web"');
    });

    it('token_num_uses = 2: exactly two calls, then token_uses_exhausted; lookups take no use', async () => {
      const web = files('web-2', await webLeaf('web-2', ['build.ci.example.com']));
      const login = certgateLogin(web);
      expect(login.status).toBe(200);
      expect(login.body).toMatchObject({ expiresIn: 600, accessTokenMaxTTL: 3600, tokenType: 'Bearer' });
      const auth = { authorization: `Bearer ${login.body.accessToken}` };
      expect((await call(`${certgate.url}/api/v1/auth/token/self`, { headers: auth })).body).toMatchObject({ identityId: 'web', usesRemaining: 2, scopes: ['certificates:request'] });
      const forward = () => call(`${certgate.url}/api/v1/auth/forward`, { headers: auth });
      expect((await forward()).status).toBe(204);
      expect((await forward()).status).toBe(204);
      const third = await forward();
      expect(third.status).toBe(401);
      expect(third.body.error).toBe('token_uses_exhausted');
    });

    it('token_bound_cidrs: the token is refused from outside 127.0.0.1/32', async () => {
      const web = files('web-3', await webLeaf('web-3', ['build.ci.example.com']));
      const login = certgateLogin(web);
      const res = await call(`${certgate.url}/api/v1/auth/token/self`, { headers: { authorization: `Bearer ${login.body.accessToken}` }, dispatcher: fromOutside });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('token_ip_not_allowed');
    });

    it('allowed_common_names and allowed_dns_sans both apply, and DNS:* is one label', async () => {
      const wrongCn = certgateLogin(files('db-1', await webLeaf('db-1', ['build.ci.example.com'])));
      expect(wrongCn.body.error).toBe('common_name_not_allowed');
      const noSan = certgateLogin(files('web-4', await webLeaf('web-4', ['build.example.org'])));
      expect(noSan.body.error).toBe('subject_alt_name_not_allowed');
      const twoLabels = certgateLogin(files('web-5', await webLeaf('web-5', ['a.b.ci.example.com'])));
      expect(twoLabels.body.error).toBe('subject_alt_name_not_allowed');
    });
  });
});

/** The CLI as `npx certgate` runs it; stdout. With `allowFailure`, a non-zero exit still returns stdout. */
function run(args: string[], allowFailure = false): string {
  try {
    return execFileSync(process.execPath, [join(REPO_ROOT, 'bin', 'certgate.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (allowFailure && typeof (e as { stdout?: unknown }).stdout === 'string') return (e as { stdout: string }).stdout;
    throw e;
  }
}
