import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTGATE_MAIN, startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem } from '../helpers/pki.js';

/** `certgate identities list|get|put|delete` against a running gateway's admin API. */
const ADMIN = 'admin-secret-0123456789';
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [CERTGATE_MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CERTGATE_ADMIN_TOKEN: '', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('certgate identities', () => {
  let gw: CertgateProcess;
  let dir: string;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    dir = makeTempDir('certgate-cli-ids-');
    writePem(dir, 'ca.pem', pki.rootA.pem);
    writeFileSync(join(dir, 'builders.yaml'), stringify({ name: 'Builders', caCertificateFile: 'ca.pem', allowedCommonNames: ['agent-*'], scopes: ['build'] }));
    writeFileSync(join(dir, 'bad.yaml'), stringify({ caCertificateFile: 'ca.pem', allowedCN: ['x'] }));
    gw = await startCertgate({
      config: {
        store: { url: 'memory' },
        log: { level: 'warn' },
        admin: { tokens: [ADMIN] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'static', caCertificate: pki.rootA.pem, allowedCommonNames: ['nobody'] }],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('prints its help', () => {
    const r = cli(['identities', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('certgate identities list|get ID|put ID --file FILE|delete ID');
  });

  it('puts an identity from a YAML file (CA file sent inline), lists, gets and deletes it', async () => {
    const put = cli(['identities', 'put', 'builders', '--file', join(dir, 'builders.yaml'), '--url', gw.url, '--admin-token', ADMIN]);
    expect(put).toMatchObject({ code: 0, out: 'created identity "builders"\n' });
    expect((await postJson(gw.url + LOGIN_PATH, { identityId: 'builders' }, { 'x-ssl-client-cert': header })).status).toBe(200);
    const list = cli(['identities', 'list', '--url', gw.url], { CERTGATE_ADMIN_TOKEN: ADMIN });
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^ID\s+SOURCE\s+NAME\s+SCOPES$/);
    expect(list.out).toMatch(/^static\s+file\s+static$/m);
    expect(list.out).toMatch(/^builders\s+api\s+Builders\s+build$/m);
    const get = cli(['identities', 'get', 'builders', '--url', gw.url, '--admin-token', ADMIN]);
    expect(JSON.parse(get.out)).toMatchObject({ source: 'api', identity: { id: 'builders', name: 'Builders', caCertificate: expect.stringContaining('BEGIN CERTIFICATE') } });
    const again = cli(['identities', 'put', 'builders', '--file', join(dir, 'builders.yaml'), '--url', gw.url, '--admin-token', ADMIN]);
    expect(again.out).toBe('replaced identity "builders"\n');
    expect(cli(['identities', 'delete', 'builders', '--url', gw.url, '--admin-token', ADMIN])).toMatchObject({ code: 0 });
    expect((await postJson(gw.url + LOGIN_PATH, { identityId: 'builders' }, { 'x-ssl-client-cert': header })).body.error).toBe('unknown_identity');
  });

  it('exits 1 with the error code when the gateway refuses, 2 on bad usage', () => {
    const bad = cli(['identities', 'put', 'x', '--file', join(dir, 'bad.yaml'), '--url', gw.url, '--admin-token', ADMIN]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/400 identity_unknown_keys: .*allowedCN/);
    expect(cli(['identities', 'delete', 'static', '--url', gw.url, '--admin-token', ADMIN]).err).toMatch(/409 identity_managed_by_config/);
    expect(cli(['identities', 'get', 'nope', '--url', gw.url, '--admin-token', ADMIN]).err).toMatch(/404 identity_not_found/);
    expect(cli(['identities', 'list', '--url', gw.url, '--admin-token', 'wrong-token-0123456789']).err).toMatch(/401 admin_unauthorized/);
    expect(cli(['identities', 'list', '--url', gw.url]).code).toBe(2);
    expect(cli(['identities', 'put', 'x', '--url', gw.url, '--admin-token', ADMIN]).code).toBe(2);
    expect(cli(['identities', 'frob']).code).toBe(2);
  });
});
