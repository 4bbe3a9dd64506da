import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CERTGATE_MAIN, type CertgateProcess } from '../helpers/certgate-process.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type MintedCert, type TestPki } from '../helpers/pki.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ADMIN = 'admin-secret-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(50);
  }
}

/**
 * The fleet issue's last done-when: continuous logins, renewals and calls across two gateway
 * processes on one real redis-server for the whole length of a key rotation, a config reload, an
 * identity created and deleted through the admin API, and a certificate revoke. Every answer is
 * recorded; the only refusals allowed are the intended ones (the revoked certificate's, and the
 * deleted identity's), and even those only after the change that causes them.
 */
describe('a fleet changed live under continuous traffic', () => {
  let pki: TestPki;
  let fleet: Fleet<CertgateProcess>;
  let a: CertgateProcess;
  let b: CertgateProcess;
  let steady: string;
  let victim: MintedCert;
  let victimHeader: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    steady = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    victim = await pki.leaf({ cn: 'victim-1' });
    victimHeader = nginxEscaped(victim, pki.interA);
    fleet = await startFleet({
      size: 2,
      config: {
        keys: { publishBefore: 2 },
        log: { level: 'info' },
        admin: { tokens: [ADMIN] },
        // This test logs in hundreds of times a minute from one address.
        limits: { loginsPerIpPerMinute: 0, loginsPerIdentityPerMinute: 0 },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [
          { id: 'steady', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'], accessTokenTTL: 30, accessTokenMaxTTL: 60 },
          { id: 'victims', caCertificate: pki.rootA.pem, allowedCommonNames: ['victim-*'], accessTokenTTL: 30, accessTokenMaxTTL: 60 },
        ],
      },
    });
    [a, b] = fleet.gateways as [CertgateProcess, CertgateProcess];
  });
  afterAll(() => fleet?.stop());

  it('answers every call but the intended refusals through rotate, reload, identity change and certificate revoke', async () => {
    const unexpected: string[] = [];
    const counts = { ok: 0, intended: 0 };
    let stop = false;
    /** Set when the revoke call has returned: from then on the victim must be refused everywhere. */
    let victimRevokedAt = Infinity;
    let victimRevokeStarted = Infinity;

    const steadyLoop = async (x: CertgateProcess, y: CertgateProcess) => {
      while (!stop) {
        const login = await postJson(x.url + LOGIN_PATH, { identityId: 'steady' }, { 'x-ssl-client-cert': steady });
        if (login.status !== 200) {
          unexpected.push(`steady login ${login.status} ${login.body?.error}`);
          continue;
        }
        counts.ok++;
        const calls = [
          () => getJson(`${y.url}/api/v1/auth/forward`, bearer(login.body.accessToken)),
          () => getJson(`${x.url}/api/v1/auth/token/self`, bearer(login.body.accessToken)),
          () => postJson(`${y.url}/api/v1/auth/token/renew`, { accessToken: login.body.accessToken }),
        ];
        for (const call of calls) {
          const r = await call();
          if (r.status >= 200 && r.status < 300) counts.ok++;
          else unexpected.push(`steady call ${r.status} ${r.body?.error}`);
        }
      }
    };

    const victimLoop = async (x: CertgateProcess, y: CertgateProcess) => {
      while (!stop) {
        const startedAt = Date.now();
        const login = await postJson(x.url + LOGIN_PATH, { identityId: 'victims' }, { 'x-ssl-client-cert': victimHeader });
        const settle = (r: { status: number; body: any }, what: string, intendedCode: string[]) => {
          if (r.status >= 200 && r.status < 300) {
            // A success that started after the revoke had returned is a revoked certificate getting through.
            if (startedAt > victimRevokedAt) unexpected.push(`victim ${what} ${r.status} after the revoke`);
            else counts.ok++;
          } else if (Date.now() >= victimRevokeStarted && r.status === 401 && intendedCode.includes(r.body?.error)) {
            counts.intended++;
          } else unexpected.push(`victim ${what} ${r.status} ${r.body?.error}`);
        };
        settle(login, 'login', ['certificate_revoked']);
        if (login.status !== 200) {
          await sleep(20);
          continue;
        }
        const token = login.body.accessToken as string;
        for (let i = 0; i < 3 && !stop; i++) {
          const callStarted = Date.now();
          const r = await getJson(`${(i % 2 ? x : y).url}/api/v1/auth/forward`, bearer(token));
          if (r.status === 204) {
            if (callStarted > victimRevokedAt) unexpected.push('victim call 204 after the revoke');
            else counts.ok++;
          } else if (Date.now() >= victimRevokeStarted && r.status === 401 && r.body?.error === 'token_revoked') counts.intended++;
          else unexpected.push(`victim call ${r.status} ${r.body?.error}`);
        }
      }
    };

    const loops = [steadyLoop(a, b), steadyLoop(b, a), victimLoop(a, b), victimLoop(b, a)];
    try {
      await sleep(500);

      // 1. Key rotation: the new key is written, published by both, and signs after publishBefore.
      const jwksKids = async (gw: CertgateProcess) => ((await getJson(`${gw.url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid);
      const before = await jwksKids(a);
      const rotated = await run(process.execPath, [CERTGATE_MAIN, 'keys', 'rotate', '--config', a.configFile]);
      expect(rotated.stdout).toMatch(/signs/i);
      await until('both gateways publish the new key', async () => (await jwksKids(a)).length > before.length && (await jwksKids(b)).length > before.length, 12_000);
      await sleep(2500); // past publishBefore: the new key signs now

      // 2. Reload by SIGHUP on both: a new identity.
      for (const gw of [a, b]) {
        const doc = parse(readFileSync(gw.configFile, 'utf8')) as Record<string, any>;
        doc.identities.push({ id: 'added', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] });
        writeFileSync(gw.configFile, stringify(doc));
        gw.process.signal('SIGHUP');
      }
      for (const gw of [a, b]) {
        await until(`login as "added" on ${gw.url}`, async () => (await postJson(gw.url + LOGIN_PATH, { identityId: 'added' }, { 'x-ssl-client-cert': steady })).status === 200, 5000);
      }

      // 3. An identity made through the admin API of A, used on B, deleted: its tokens die on both.
      const put = await fetch(`${a.url}/api/v1/admin/identities/api-made`, {
        method: 'PUT',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] }),
      });
      expect(put.status).toBe(201);
      let apiToken = '';
      await until('login as "api-made" on B', async () => {
        const r = await postJson(b.url + LOGIN_PATH, { identityId: 'api-made' }, { 'x-ssl-client-cert': steady });
        apiToken = r.body?.accessToken ?? '';
        return r.status === 200;
      }, 2000);
      expect((await getJson(`${a.url}/api/v1/auth/forward`, bearer(apiToken))).status).toBe(204);
      expect((await fetch(`${b.url}/api/v1/admin/identities/api-made`, { method: 'DELETE', headers: admin })).status).toBe(204);
      for (const gw of [a, b]) expect((await getJson(`${gw.url}/api/v1/auth/forward`, bearer(apiToken))).status).toBe(401);

      // 4. The victim's certificate is revoked on B: its tokens and logins die on both gateways.
      victimRevokeStarted = Date.now();
      const sha256 = createHash('sha256').update(victim.der).digest('hex');
      const revoked = await postJson(`${b.url}/api/v1/admin/certificates/revoke`, { sha256 }, admin);
      expect(revoked.status).toBe(200);
      victimRevokedAt = Date.now();
      await sleep(1000);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(unexpected).toEqual([]);
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.intended).toBeGreaterThan(0);
  });
});
