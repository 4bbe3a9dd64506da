import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTGATE_MAIN, startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem, type TestPki } from '../helpers/pki.js';

/** A fresh EC P-256 private JWK. */
const ecJwk = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [CERTGATE_MAIN, ...args], { encoding: 'utf8', env: { ...process.env, REDIS_URL: '', CERTGATE_CONFIG: '', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('the certgate CLI', () => {
  let pki: TestPki;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = makeTempDir('certgate-cli-');
    writePem(dir, 'ca.pem', pki.rootA.pem + pki.interA.pem);
    writePem(dir, 'agent.pem', (await pki.leaf({ cn: 'agent-1' })).pem);
    writePem(dir, 'rogue.pem', (await pki.leaf({ cn: 'intruder' })).pem);
    configFile = join(dir, 'certgate.yaml');
    writeFileSync(configFile, stringify({ issuer: 'https://gw.test', store: { url: 'memory' }, keys: { dir: 'keys' }, identities: [{ id: 'agents', caCertificateFile: 'ca.pem', allowedCommonNames: ['agent-*'] }] }));
  });

  it('prints help for every verb', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const verb of ['serve', 'login', 'check-cert', 'keys', 'tokens', 'check-config']) {
      expect(top.out).toContain(verb);
      const r = cli([verb, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`certgate ${verb}`);
    }
    expect(cli(['frobnicate']).code).toBe(2);
  });

  it('check-config accepts a valid file and refuses an invalid one naming the key', () => {
    expect(cli(['check-config', '--config', configFile])).toMatchObject({ code: 0 });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, stringify({ issuer: 'https://gw.test', identities: [{ id: 'a', caCertificateFile: 'ca.pem', accessTokenTTL: 100, accessTokenMaxTTL: 10 }] }));
    const r = cli(['check-config', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('identities.0.accessTokenTTL');
    // serve refuses the same file before listening
    const s = cli(['serve', '--config', bad]);
    expect(s.code).toBe(1);
    expect(s.err).toMatch(/invalid configuration: identities\.0\.accessTokenTTL/);
  });

  it('check-cert explains which identity a certificate logs in as, or why not', () => {
    const ok = cli(['check-cert', '--config', configFile, '--cert', join(dir, 'agent.pem')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('would log in as identity "agents"');
    const no = cli(['check-cert', '--config', configFile, '--cert', join(dir, 'rogue.pem')]);
    expect(no.code).toBe(1);
    expect(no.out).toContain('common_name_not_allowed');
  });

  it('keys list never creates a key; rotate writes the first key active at once, then next keys that sign after publishBefore', () => {
    const keysDir = join(dir, 'keys');
    const empty = cli(['keys', 'list', '--config', configFile]);
    expect(empty.code).toBe(0);
    expect(empty.out).toMatch(/^no signing keys: .* does not exist/);
    expect(existsSync(keysDir)).toBe(false);

    const first = cli(['keys', 'rotate', '--config', configFile]);
    expect(first.code).toBe(0);
    const firstKid = first.out.match(/^(\S{43}) \(ES256\) written to /)![1]!;
    expect(first.out).toContain('(the first key: at once)');

    const before = Date.now();
    const second = cli(['keys', 'rotate', '--config', configFile]);
    expect(second.code).toBe(0);
    const [, kid, signsFrom] = second.out.match(/^(\S{43}) \(ES256\) written to [^\n]*\nevery gateway publishes it in its JWKS within 10 s; it signs from (\S+) \(keys\.publishBefore 3600 s\)/)!;
    expect(Math.abs(Date.parse(signsFrom!) - (before + 3600_000))).toBeLessThan(5000);
    expect(readdirSync(keysDir).sort()).toEqual([`${firstKid}.jwk.json`, `${kid}.jwk.json`].sort());
    expect(statSync(join(keysDir, `${kid}.jwk.json`)).mode & 0o777).toBe(0o600);

    const list = cli(['keys', 'list', '--config', configFile]);
    expect(list.code).toBe(0);
    const lines = list.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${kid}  ES256  next      created \\S+Z  signs from ${signsFrom}$`));
    expect(lines[1]).toMatch(new RegExp(`^${firstKid}  ES256  active    created \\S+Z  activated \\S+Z$`));
    expect(readdirSync(keysDir)).toHaveLength(2);
  });

  it('keys rotate writes keys of keys.algorithm and dates them by keys.publishBefore', () => {
    const edConfig = join(dir, 'ed.yaml');
    writeFileSync(edConfig, stringify({ issuer: 'https://gw.test', store: { url: 'memory' }, keys: { dir: 'ed-keys', algorithm: 'EdDSA', publishBefore: 60 } }));
    expect(cli(['keys', 'rotate', '--config', edConfig]).out).toMatch(/^\S{43} \(EdDSA\) written to .*\(the first key: at once\)\n$/s);
    expect(cli(['keys', 'rotate', '--config', edConfig]).out).toMatch(/\(keys\.publishBefore 60 s\)\n$/);
    const lines = cli(['keys', 'list', '--config', edConfig]).out.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(1, 3))).toEqual([['EdDSA', 'next'], ['EdDSA', 'active']]);
  });

  it('keys list shows retiring and retired keys with their dates, and names a file it skips', () => {
    const keysDir = join(dir, 'aged-keys');
    mkdirSync(keysDir);
    const aged = join(dir, 'aged.yaml');
    // 10 s late read + accessTokenMaxTTL 600 + clock skew 30: a superseded key retires 640 s after it stopped signing.
    writeFileSync(aged, stringify({ issuer: 'https://gw.test', store: { url: 'memory' }, keys: { dir: 'aged-keys' }, identities: [{ id: 'agents', caCertificateFile: 'ca.pem', accessTokenTTL: 60, accessTokenMaxTTL: 600 }] }));
    const now = Math.floor(Date.now() / 1000);
    const key = (name: string, createdAt: number, activatesAt: number) =>
      writeFileSync(join(keysDir, `${name}.jwk.json`), JSON.stringify({ ...ecJwk(), kid: name, created_at: createdAt, activates_at: activatesAt }));
    key('oldest', now - 10_000, now - 10_000);
    key('older', now - 5000, now - 5000);
    key('current', now - 100, now - 100);
    writeFileSync(join(keysDir, 'junk.jwk.json'), '{');
    const r = cli(['keys', 'list', '--config', aged]);
    expect(r.code).toBe(0);
    const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
    expect(r.out.trim().split('\n')).toEqual([
      `current  ES256  active    created ${iso(now - 100)}  activated ${iso(now - 100)}`,
      `older  ES256  retiring  created ${iso(now - 5000)}  activated ${iso(now - 5000)}  stopped signing ${iso(now - 100)}  retires ${iso(now - 100 + 640)}`,
      `oldest  ES256  retired   created ${iso(now - 10_000)}  activated ${iso(now - 10_000)}  stopped signing ${iso(now - 5000)}  retired ${iso(now - 5000 + 640)}`,
    ]);
    expect(r.err).toBe('skipped junk.jwk.json: not JSON\n');
  });
});

describe('certgate tokens revoke-identity against a running gateway', () => {
  let redis: RedisServer;
  let gw: CertgateProcess;
  let header: string;
  let configFile: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    redis = await startRedis();
    gw = await startCertgate({
      config: {
        store: { url: redis.url },
        log: { level: 'warn' },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
      },
    });
    configFile = gw.configFile;
  });
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  it('revokes every earlier token of the identity on the gateway that shares the store', async () => {
    const t = (await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).body.accessToken;
    expect((await getJson(gw.url + '/api/v1/auth/forward', { authorization: `Bearer ${t}` })).status).toBe(204);
    const r = cli(['tokens', 'revoke-identity', 'agents', '--config', configFile]);
    expect(r.code).toBe(0);
    const after = await getJson(gw.url + '/api/v1/auth/forward', { authorization: `Bearer ${t}` });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('token_revoked');
    expect((await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).status).toBe(200);
  });
});
