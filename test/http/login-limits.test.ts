/**
 * Issue 7, defect 3: `limits:` across a fleet. Two gateway processes share one real redis-server;
 * logins on A count against B (per client address, per identity, outstanding tokens), refusals are
 * 429 with Retry-After, and the per-address refusal comes before any certificate work. A Redis that
 * may evict certgate's keys is refused loudly: /readyz 503, logins 503 store_misconfigured.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertgateProcess } from '../helpers/certgate-process.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

let nextAddress = 1;
/** A client address of its own for each call, so only the limit under test can refuse it. */
const freshAddress = () => `198.51.${100 + Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 1}`;

describe('login limits shared by two gateways', () => {
  let fleet: Fleet<CertgateProcess>;
  let a: CertgateProcess;
  let b: CertgateProcess;
  let header: string;
  let pki: Awaited<ReturnType<typeof makeTestPki>>;
  let raw: Redis;

  beforeAll(async () => {
    pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    fleet = await startFleet({
      size: 2,
      redisArgs: ['--maxmemory-policy', 'noeviction'],
      config: {
        log: { level: 'warn' },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        limits: { loginsPerIpPerMinute: 3, loginsPerIdentityPerMinute: 6, outstandingTokensPerIdentity: 4 },
        identities: [
          { id: 'by-address', caCertificate: pki.rootA.pem },
          { id: 'by-v6', caCertificate: pki.rootA.pem },
          { id: 'by-identity', caCertificate: pki.rootA.pem },
          { id: 'quota', caCertificate: pki.rootA.pem },
          { id: 'picky', caCertificate: pki.rootA.pem, allowedCommonNames: ['someone-else'] },
          { id: 'warm', caCertificate: pki.rootA.pem },
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

  const login = (gw: CertgateProcess, identityId: string, address = freshAddress(), cert = header) =>
    postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': cert, 'x-forwarded-for': address });

  const expect429 = (res: Awaited<ReturnType<typeof login>>, error: string) => {
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ statusCode: 429, error, reqId: expect.any(String) });
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    return retryAfter;
  };

  it('counts logins per client address across both gateways: 429 rate_limited with Retry-After', async () => {
    const address = '203.0.113.7';
    expect((await login(a, 'by-address', address)).status).toBe(200);
    expect((await login(a, 'by-address', address)).status).toBe(200);
    expect((await login(b, 'by-address', address)).status).toBe(200);
    const refused = await login(b, 'by-address', address);
    const retryAfter = expect429(refused, 'rate_limited');
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect429(await login(a, 'by-address', address), 'rate_limited');
    // Another address is not affected.
    expect((await login(a, 'by-address')).status).toBe(200);
  });

  /** Signature verifications a gateway has run while searching paths (its /metrics). */
  const pathVerifications = async (gw: CertgateProcess) =>
    Number(/^certgate_path_signature_verifications_total (\d+)/m.exec(await (await fetch(gw.url + '/metrics')).text())?.[1] ?? NaN);
  /** EVAL + EVALSHA calls Redis has answered since the last CONFIG RESETSTAT. */
  const scriptCalls = async () => [...(await raw.info('commandstats')).matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);

  it('counts attempts refused before any chain work, and refuses an address over its rate before any path search', async () => {
    const address = '203.0.113.8';
    for (let i = 0; i < 3; i++) {
      const res = await login(i % 2 ? a : b, 'by-address', address, 'not-a-certificate');
      expect([res.status, res.body.error]).toEqual([400, 'malformed_certificate_header']);
    }
    // A certificate never seen (its path not cached): over the rate, no signature is verified for it.
    const unseen = nginxEscaped(await pki.leaf({ cn: 'agent-unseen' }), pki.interA);
    const before = await pathVerifications(a);
    expect429(await login(a, 'by-address', address, unseen), 'rate_limited');
    expect(await pathVerifications(a)).toBe(before);
    expect429(await login(a, 'by-address', address, 'not-a-certificate'), 'rate_limited');
  });

  it('counts a refused attempt whose chain was already verified (no path search to gate)', async () => {
    expect((await login(a, 'warm')).status).toBe(200); // the certificate's path is now cached
    const address = '203.0.113.9';
    for (let i = 0; i < 3; i++) {
      const res = await login(a, 'picky', address);
      expect([res.status, res.body.error]).toEqual([401, 'common_name_not_allowed']);
    }
    expect429(await login(a, 'picky', address), 'rate_limited');
  });

  it('sends a login whose path is cached as ONE script: the address\'s rate counted with the token\'s writes', async () => {
    const address = freshAddress();
    expect((await login(a, 'warm', address)).status).toBe(200);
    await raw.config('RESETSTAT');
    expect((await login(a, 'warm', address)).status).toBe(200);
    expect(await scriptCalls()).toBe(1);
  });

  it('counts one IPv6 /64 as one client', async () => {
    for (let i = 1; i <= 3; i++) expect((await login(i % 2 ? a : b, 'by-v6', `2001:db8:7:7::${i}`)).status).toBe(200);
    expect429(await login(a, 'by-v6', '2001:db8:7:7:ffff::1'), 'rate_limited');
    expect((await login(a, 'by-v6', '2001:db8:7:8::1')).status).toBe(200);
  });

  it('counts logins per identity across both gateways and addresses', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await login(i % 2 ? a : b, 'by-identity');
      expect(res.status).toBe(200);
      // Revoked at once, so the outstanding-token quota (4) is not what refuses below.
      expect((await postJson(`${a.url}/api/v1/auth/token/revoke`, { accessToken: res.body.accessToken })).status).toBe(200);
    }
    // Counted by the store with the quota, in the token put's first step: a refused login writes no token.
    const raw = new Redis(fleet.redis.url);
    try {
      const tokenKeys = () => raw.keys('certgate:token:{by-identity/*');
      expect(await tokenKeys()).toHaveLength(6);
      expect429(await login(b, 'by-identity'), 'rate_limited');
      expect429(await login(a, 'by-identity'), 'rate_limited');
      expect(await tokenKeys()).toHaveLength(6);
      expect(await raw.zcard('certgate:outstanding:{by-identity}')).toBe(0);
    } finally {
      raw.disconnect();
    }
  });

  it('caps outstanding tokens per identity across both gateways; a revoke frees a slot', async () => {
    const tokens = [];
    for (const gw of [a, b, a, b]) {
      const res = await login(gw, 'quota');
      expect(res.status).toBe(200);
      tokens.push(res.body.accessToken as string);
    }
    const refused = await login(b, 'quota');
    const retryAfter = expect429(refused, 'token_quota_exceeded');
    // Until the earliest token expires (accessTokenTTL, default 7200 s).
    expect(retryAfter).toBeGreaterThan(7000);
    expect(retryAfter).toBeLessThanOrEqual(7200);
    expect((await postJson(`${b.url}/api/v1/auth/token/revoke`, { accessToken: tokens[0] })).status).toBe(200);
    expect((await login(a, 'quota')).status).toBe(200);
    // The tokens issued are unaffected by the refusals.
    expect((await getJson(`${b.url}/api/v1/auth/token/self`, { authorization: `Bearer ${tokens[1]}` })).status).toBe(200);
  });
});

describe('a gateway on a Redis that may evict its keys', () => {
  let fleet: Fleet<CertgateProcess>;
  let gw: CertgateProcess;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    fleet = await startFleet({
      size: 1,
      redisArgs: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'],
      config: {
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
      },
    });
    [gw] = fleet.gateways as [CertgateProcess];
  });
  afterAll(() => fleet?.stop());

  it('is not ready, names the reason, refuses logins with 503 store_misconfigured and logs an error', async () => {
    const ready = await getJson(`${gw.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ error: 'store_misconfigured', message: expect.stringContaining('maxmemory-policy allkeys-lru') });
    const res = await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('store_misconfigured');
    const line = gw.process.output().split('\n').find((l) => l.includes('"event":"store_misconfigured"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 50, audit: true, policy: 'allkeys-lru' });
  });

  it('serves once the policy is noeviction (fixed at runtime, no restart)', async () => {
    const { Redis } = await import('ioredis');
    const admin = new Redis(fleet.redis.url);
    try {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
    } finally {
      admin.disconnect();
    }
    // The gateway re-reads the policy every 10 s: the time bound under test.
    await expect.poll(async () => (await getJson(`${gw.url}/readyz`)).status, { timeout: 15_000, interval: 200 }).toBe(200);
    expect((await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).status).toBe(200);
  });
});

describe('a gateway on a Redis whose CONFIG command is disabled', () => {
  it('serves, and logs a warning that the policy cannot be verified', async () => {
    const pki = await makeTestPki();
    const header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    const fleet = await startFleet({
      size: 1,
      redisArgs: ['--rename-command', 'CONFIG', ''],
      config: {
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
      },
    });
    const [gw] = fleet.gateways as [CertgateProcess];
    try {
      expect((await getJson(`${gw.url}/readyz`)).status).toBe(200);
      expect((await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).status).toBe(200);
      const line = gw.process.output().split('\n').find((l) => l.includes('"event":"store_policy_unverifiable"'));
      expect(JSON.parse(line!)).toMatchObject({ level: 40, msg: expect.stringContaining('make sure the policy is noeviction') });
    } finally {
      await fleet.stop();
    }
  });
});
