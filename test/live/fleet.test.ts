import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { CertgateProcess } from '../helpers/certgate-process.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type TestPki } from '../helpers/pki.js';
import { until } from '../helpers/until.js';

/**
 * Two gateway processes on one real redis-server, each with its own config file: a config file
 * reloaded by SIGHUP or by a change of the file, and identities managed through the admin API of
 * one gateway, take effect without a restart; a broken file changes nothing.
 */
const ADMIN = 'admin-secret-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Audit lines of one event in a gateway's output so far. */
function auditLines(gw: CertgateProcess, event: string): Record<string, any>[] {
  return gw.process
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l));
}

describe('a fleet that changes without restarts', () => {
  let pki: TestPki;
  let fleet: Fleet<CertgateProcess>;
  let a: CertgateProcess;
  let b: CertgateProcess;
  let header: string;
  let otherHeader: string;

  const identity = (id: string, cn: string) => ({ id, caCertificate: pki.rootA.pem, allowedCommonNames: [cn] });
  const login = (gw: CertgateProcess, identityId: string, h = header) => postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': h });
  const readConfig = (gw: CertgateProcess) => parse(readFileSync(gw.configFile, 'utf8')) as Record<string, any>;

  beforeAll(async () => {
    pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    otherHeader = nginxEscaped(await pki.leaf({ cn: 'other-1' }), pki.interA);
    fleet = await startFleet({
      size: 2,
      config: {
        log: { level: 'info' },
        admin: { tokens: [ADMIN] },
        // The continuous-traffic test logs in far more often than a real workload would, all from 127.0.0.1.
        limits: { loginsPerIpPerMinute: 0, loginsPerIdentityPerMinute: 0 },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [identity('kept', 'agent-*')],
      },
    });
    [a, b] = fleet.gateways as [CertgateProcess, CertgateProcess];
  });
  afterAll(() => fleet?.stop());

  it('SIGHUP adds an identity from the file; a broken file then changes nothing and every problem is logged', async () => {
    expect((await login(a, 'hup')).body.error).toBe('unknown_identity');
    const doc = readConfig(a);
    doc.identities.push(identity('hup', 'agent-*'));
    writeFileSync(a.configFile, stringify(doc));
    a.process.signal('SIGHUP');
    // The file watch may see the write first; SIGHUP reloads whether or not the text changed.
    await until('a reload by SIGHUP', async () => auditLines(a, 'config_reloaded').find((l) => l.trigger === 'sighup' && l.identities === 2), 5000);
    expect((await login(a, 'hup')).status).toBe(200);

    // Three defects at once, plus a restart-only change: nothing of it applies.
    const broken = readConfig(a);
    broken.identities.push({ ...identity('never', 'agent-*'), allowedCN: ['x'] });
    broken.identities[0].accessTokenTTL = 999999;
    broken.trustedProxies[0].cidrs = ['10.0.0.0/33'];
    const failuresBefore = auditLines(a, 'config_reload_failed').length;
    writeFileSync(a.configFile, stringify(broken));
    a.process.signal('SIGHUP');
    // The file watch may also read the file mid-write (an empty file): wait for the complete one's failure.
    const failure = await until('config_reload_failed naming the three problems', async () =>
      auditLines(a, 'config_reload_failed').slice(failuresBefore).find((l) => l.problems.some((p: { path: string }) => p.path === 'identities.2')), 5000);
    const paths = (failure.problems as { path: string; reason: string }[]).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['identities.2', 'identities.0.accessTokenTTL', 'trustedProxies.0.cidrs.0']));
    expect(failure.problems.find((p: { path: string }) => p.path === 'identities.2').reason).toMatch(/unknown key "allowedCN"/);
    // The running state is the last good one: both identities still log in, the broken one's new one does not.
    expect((await login(a, 'kept')).status).toBe(200);
    expect((await login(a, 'hup')).status).toBe(200);
    expect((await login(a, 'never')).body.error).toBe('unknown_identity');
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/certgate_config_reloads_total\{outcome="failure"\} [1-9]/);
    expect(metrics).toMatch(/certgate_config_reloads_total\{outcome="success"\} [1-9]/);
    // Leave a valid file behind for the tests that follow.
    writeFileSync(a.configFile, stringify(doc));
    a.process.signal('SIGHUP');
  });

  it('names settings that need a restart, and applies the rest', async () => {
    const doc = readConfig(b);
    doc.server.storeTimeoutMs = 1234;
    doc.identities.push(identity('restart-test', 'agent-*'));
    const before = auditLines(b, 'config_reloaded').length;
    writeFileSync(b.configFile, stringify(doc));
    b.process.signal('SIGHUP');
    const line = await until('config_reloaded', async () => auditLines(b, 'config_reloaded').slice(before).find((l) => l.identities === 2), 5000);
    expect(line.restartRequired).toEqual(['server']);
    expect((await login(b, 'restart-test')).status).toBe(200);
  });

  it('reloads on a file replaced by rename, and on an in-place write, failing while half-written', async () => {
    // Write a new file and rename it over the old one, as editors and config managers do.
    const doc = readConfig(b);
    doc.identities.push(identity('renamed', 'other-*'));
    const tmp = join(b.dir, '.certgate.yaml.tmp');
    writeFileSync(tmp, stringify(doc));
    renameSync(tmp, b.configFile);
    await until('login as "renamed" after a rename', async () => ((await login(b, 'renamed', otherHeader)).status === 200 ? true : undefined), 5000);

    // An in-place write seen half-way: the truncated CA fails validation and the running state stays.
    doc.identities.push(identity('in-place', 'other-*'));
    const full = stringify(doc);
    const cut = full.lastIndexOf('-----END CERTIFICATE-----') - 40;
    const failuresBefore = auditLines(b, 'config_reload_failed').length;
    writeFileSync(b.configFile, full.slice(0, cut));
    const caPath = `identities.${doc.identities.length - 1}.caCertificate`;
    const failure = await until('config_reload_failed for the half-written file', async () =>
      auditLines(b, 'config_reload_failed').slice(failuresBefore).find((l) => l.problems.some((p: { path: string }) => p.path === caPath)), 5000);
    expect(failure.trigger).toBe('file');
    expect((await login(b, 'renamed', otherHeader)).status).toBe(200);
    expect((await login(b, 'in-place', otherHeader)).body.error).toBe('unknown_identity');
    // The write completes: the whole file applies.
    writeFileSync(b.configFile, full);
    await until('login as "in-place" once the file is complete', async () => ((await login(b, 'in-place', otherHeader)).status === 200 ? true : undefined), 5000);
  });

  it('an identity PUT on one gateway logs in on the other within 2 s; its DELETE kills its tokens on both', async () => {
    const put = await fetch(`${a.url}/api/v1/admin/identities/api-made`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ caCertificate: pki.rootA.pem, allowedCommonNames: ['other-*'], scopes: ['things:read'] }),
    });
    expect(put.status).toBe(201);
    const putAt = Date.now();
    // On the gateway that took the PUT, at once.
    expect((await login(a, 'api-made', otherHeader)).status).toBe(200);
    const onB = await until('login on B', async () => {
      const r = await login(b, 'api-made', otherHeader);
      return r.status === 200 ? r : undefined;
    }, 2000);
    expect(Date.now() - putAt).toBeLessThan(2000);
    const listed = await getJson(`${b.url}/api/v1/admin/identities`, { authorization: `Bearer ${ADMIN}` });
    expect(listed.body.identities).toEqual(expect.arrayContaining([
      { id: 'api-made', name: 'api-made', scopes: ['things:read'], source: 'api' },
      { id: 'kept', name: 'kept', scopes: [], source: 'file' },
    ]));

    const tokenB = onB.body.accessToken as string;
    const tokenA = (await login(a, 'api-made', otherHeader)).body.accessToken as string;
    for (const gw of [a, b]) {
      for (const t of [tokenA, tokenB]) expect((await getJson(`${gw.url}/api/v1/auth/forward`, { authorization: `Bearer ${t}` })).status).toBe(204);
    }
    const del = await fetch(`${a.url}/api/v1/admin/identities/api-made`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(del.status).toBe(204);
    // At once, on both gateways, for tokens issued by either.
    for (const gw of [a, b]) {
      for (const t of [tokenA, tokenB]) {
        const r = await getJson(`${gw.url}/api/v1/auth/forward`, { authorization: `Bearer ${t}` });
        expect(r.status).toBe(401);
        expect(['token_revoked', 'token_unknown']).toContain(r.body.error);
      }
    }
    await until('identity gone on B', async () => ((await login(b, 'api-made', otherHeader)).body.error === 'unknown_identity' ? true : undefined), 2000);
    expect(auditLines(a, 'admin_identity_put').map((l) => l.identity)).toContain('api-made');
    expect(auditLines(a, 'admin_identity_deleted').map((l) => l.identity)).toContain('api-made');
  });

  it('serves logins and calls without a single failure while files reload and API identities come and go', async () => {
    let stop = false;
    const failures: string[] = [];
    let calls = 0;
    const traffic = async (gw: CertgateProcess, other: CertgateProcess) => {
      while (!stop) {
        const r = await login(gw, 'kept');
        if (r.status !== 200) failures.push(`login ${r.status} ${r.body?.error}`);
        else {
          const f = await getJson(`${other.url}/api/v1/auth/forward`, { authorization: `Bearer ${r.body.accessToken}` });
          if (f.status !== 204) failures.push(`forward ${f.status} ${f.body?.error}`);
        }
        calls++;
      }
    };
    const running = [traffic(a, b), traffic(b, a)];
    for (let i = 0; i < 3; i++) {
      for (const gw of [a, b]) {
        const doc = readConfig(gw);
        doc.identities = [identity('kept', 'agent-*'), identity(`churn-${i}`, 'agent-*')];
        writeFileSync(gw.configFile, stringify(doc));
        gw.process.signal('SIGHUP');
      }
      const put = await fetch(`${a.url}/api/v1/admin/identities/churn-api`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ caCertificate: pki.rootA.pem, allowedCommonNames: ['nobody'] }),
      });
      expect(put.status).toBeLessThan(300);
      await sleep(600);
      expect((await fetch(`${b.url}/api/v1/admin/identities/churn-api`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(204);
      await sleep(400);
    }
    stop = true;
    await Promise.all(running);
    expect(calls).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    expect((await login(a, 'churn-2')).body).toMatchObject({ tokenType: 'Bearer' });
  });
});
