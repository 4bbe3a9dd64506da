/**
 * docs/operations.md against a real gateway: every metric name the guide uses (its alert rules
 * included) is in the /metrics output of a real certgate process, the alert rules are a
 * well-formed Prometheus rule file, and the capacity figures (bytes per token in Redis, measured
 * with MEMORY USAGE) hold on a real redis-server.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem, type TestPki } from '../helpers/pki.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { REPO_ROOT } from '../helpers/terminators.js';

const guide = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');

/** The figure the guide states after a marker like `<!-- bytes:record -->`. */
function statedBytes(name: string): number {
  const m = new RegExp(`<!-- bytes:${name} -->\\s*(\\d+)`).exec(guide);
  if (!m) throw new Error(`docs/operations.md states no bytes:${name} figure`);
  return Number(m[1]);
}

const ADMIN = 'ops-doc-admin-token-0123456789';

describe('docs/operations.md against a real gateway', () => {
  let redis: RedisServer;
  let certgate: CertgateProcess;
  let pki: TestPki;
  let raw: Redis;

  beforeAll(async () => {
    pki = await makeTestPki();
    const dir = makeTempDir('certgate-ops-doc-');
    redis = await startRedis();
    certgate = await startCertgate({
      dir,
      config: {
        store: { url: redis.url },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        admin: { tokens: [ADMIN] },
        identities: [
          {
            id: 'build-agents',
            caCertificateFile: writePem(dir, 'bundle.pem', pki.rootA.pem + pki.interA.pem),
            allowedCommonNames: ['agent-*'],
            scopes: ['certificates:request'],
          },
        ],
      },
    });
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await certgate?.stop();
    await redis?.stop();
  });

  it('every certgate_* metric the guide names is in /metrics', async () => {
    const text = await (await fetch(`${certgate.url}/metrics`)).text();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const named = [...new Set([...guide.matchAll(/\bcertgate_[a-z0-9_]+/g)].map((m) => m[0]))];
    expect(named.length).toBeGreaterThan(5);
    // A name ending in `_` (certgate_process_*) is a family: some exposed metric must start with it.
    const missing = named.filter((n) => (n.endsWith('_') ? ![...exposed].some((e) => e.startsWith(n)) : !exposed.has(n)));
    expect(missing).toEqual([]);
  });

  it('the example alert rules are a Prometheus rule file', () => {
    const block = /```yaml\n(groups:[\s\S]*?)```/.exec(guide);
    expect(block).not.toBeNull();
    const rules = parse(block![1]!) as { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] };
    expect(rules.groups.length).toBeGreaterThan(0);
    for (const g of rules.groups) {
      expect(g.name).toMatch(/\S/);
      for (const r of g.rules) {
        expect(r.alert).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
        expect(r.expr).toMatch(/certgate_|up\{/);
      }
    }
  });

  it('a token takes no more Redis memory than the guide says (MEMORY USAGE)', async () => {
    const leaf = await pki.leaf({ cn: 'agent-1' });
    const res = await postJson(`${certgate.url}${LOGIN_PATH}`, { identityId: 'build-agents' }, { 'x-ssl-client-cert': nginxEscaped(leaf, pki.interA) });
    expect(res.status).toBe(200);
    const jti = JSON.parse(Buffer.from(res.body.accessToken.split('.')[1], 'base64url').toString()).jti as string;
    const record = Number(await raw.call('MEMORY', 'USAGE', redisKeys().token('build-agents', jti)));
    // No jti → identity index any more: a token is its record and one outstanding-set member.
    expect(await raw.exists(`certgate:token-identity:${jti}`)).toBe(0);
    const sha256 = createHash('sha256').update(leaf.der).digest('hex');
    // The certificate's hash (issuer, serial, notAfter, chain) and its token set, together.
    const certTokens = () => raw.call('MEMORY', 'USAGE', `certgate:cert-tokens:{${sha256}}`).then(Number);
    const certificate = Number(await raw.call('MEMORY', 'USAGE', `certgate:cert:{${sha256}}`)) + (await certTokens());
    expect(record).toBeGreaterThan(0);
    expect(certificate).toBeGreaterThan(0);
    expect(certificate).toBeLessThanOrEqual(statedBytes('certificate'));
    expect(record).toBeLessThanOrEqual(statedBytes('record'));
    // A further token adds one member to the identity's outstanding set; its growth is bounded too.
    const setBefore = Number(await raw.call('MEMORY', 'USAGE', 'certgate:outstanding:{build-agents}'));
    const more = await postJson(`${certgate.url}${LOGIN_PATH}`, {}, { 'x-ssl-client-cert': nginxEscaped(await pki.leaf({ cn: 'agent-2' }), pki.interA) });
    expect(more.status).toBe(200);
    const setAfter = Number(await raw.call('MEMORY', 'USAGE', 'certgate:outstanding:{build-agents}'));
    expect(setAfter - setBefore).toBeLessThanOrEqual(statedBytes('outstanding'));
    // A further login of the same certificate adds one member to its token set, nothing to its hash.
    const tokensBefore = await certTokens();
    const again = await postJson(`${certgate.url}${LOGIN_PATH}`, { identityId: 'build-agents' }, { 'x-ssl-client-cert': nginxEscaped(leaf, pki.interA) });
    expect(again.status).toBe(200);
    expect((await certTokens()) - tokensBefore).toBeLessThanOrEqual(statedBytes('certificate-token'));
    process.stdout.write(`token record ${record} B, certificate ${certificate} B, outstanding member ${setAfter - setBefore} B\n`);
  });

  it('the eviction policy the guide requires is the one certgate accepts', async () => {
    expect(guide).toContain('maxmemory-policy noeviction');
    // An evicting policy makes the real gateway not ready, naming the policy (checked every 10 s and at reconnect).
    await raw.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      await expect
        .poll(async () => (await fetch(`${certgate.url}/readyz`)).status, { timeout: 20_000, interval: 250 })
        .toBe(503);
      const body = (await (await fetch(`${certgate.url}/readyz`)).json()) as { error: string; message: string };
      expect(body.error).toBe('store_misconfigured');
      expect(body.message).toContain('allkeys-lru');
    } finally {
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
    }
    await expect.poll(async () => (await fetch(`${certgate.url}/readyz`)).status, { timeout: 20_000, interval: 250 }).toBe(200);
  });

  it('a master refusing writes for want of replicas (min-replicas-to-write) makes logins answer 503 store_unavailable', async () => {
    await raw.config('SET', 'min-replicas-to-write', '1');
    try {
      const res = await postJson(`${certgate.url}${LOGIN_PATH}`, { identityId: 'build-agents' }, { 'x-ssl-client-cert': nginxEscaped(await pki.leaf({ cn: 'agent-8' }), pki.interA) });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('store_unavailable');
    } finally {
      await raw.config('SET', 'min-replicas-to-write', '0');
    }
  });

  it('a Redis that lost its data has revoked every token, and forgotten the admin-API identities', async () => {
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const put = await fetch(`${certgate.url}/api/v1/admin/identities/api-agents`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ caCertificate: pki.rootA.pem + pki.interA.pem, allowedCommonNames: ['api-*'] }),
    });
    expect(put.status).toBe(201);
    const login = await postJson(`${certgate.url}${LOGIN_PATH}`, { identityId: 'build-agents' }, { 'x-ssl-client-cert': nginxEscaped(await pki.leaf({ cn: 'agent-9' }), pki.interA) });
    const bearer = { authorization: `Bearer ${login.body.accessToken}` };
    expect((await fetch(`${certgate.url}/api/v1/auth/token/self`, { headers: bearer })).status).toBe(200);
    await redis.restart(); // this redis-server persists nothing: it comes back empty
    await expect.poll(async () => (await fetch(`${certgate.url}/readyz`)).status, { timeout: 20_000, interval: 250 }).toBe(200);
    const after = await fetch(`${certgate.url}/api/v1/auth/token/self`, { headers: bearer });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toBe('token_unknown');
    expect((await fetch(`${certgate.url}/api/v1/admin/identities/api-agents`, { headers: admin })).status).toBe(404);
  });
});
