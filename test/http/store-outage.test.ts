import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/**
 * Redis dies under a running gateway: every login, renewal and call is refused with 503 at once
 * (bounded by the store timeout, never a fail-open), /readyz says so, and when the same Redis comes
 * back the gateway serves again without a restart.
 */
describe('token store outage', () => {
  let redis: RedisServer;
  let gw: TestGateway;
  let header: string;
  let token: string;
  const TIMEOUT_MS = 300;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    redis = await startRedis({ args: ['--appendonly', 'yes'] });
    const store = new RedisTokenStore({ url: redis.url, commandTimeoutMs: TIMEOUT_MS, connectTimeoutMs: TIMEOUT_MS });
    gw = await startTestGateway(
      {
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem, accessTokenNumUsesLimit: 100 }],
        admin: { tokens: ['admin-secret-0123456789'] },
      },
      { store },
    );
    const res = await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    expect(res.status).toBe(200);
    token = res.body.accessToken;
  });
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
  });

  const timed = async <T>(f: () => Promise<T>) => {
    const t0 = performance.now();
    const r = await f();
    return { r, ms: performance.now() - t0 };
  };

  it('refuses with 503 store_unavailable while Redis is down, and recovers by itself', async () => {
    expect((await getJson(gw.url + '/readyz')).status).toBe(200);
    await redis.kill();

    const login = await timed(() => postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header }));
    expect(login.r.status).toBe(503);
    expect(login.r.body.error).toBe('store_unavailable');
    expect(login.r.body.accessToken).toBeUndefined();

    const call = await timed(() => getJson(gw.url + '/api/v1/auth/forward', { authorization: `Bearer ${token}` }));
    expect(call.r.status).toBe(503);
    expect(call.r.body.error).toBe('store_unavailable');

    const renew = await postJson(gw.url + '/api/v1/auth/token/renew', { accessToken: token });
    expect(renew.status).toBe(503);
    expect((await getJson(gw.url + '/api/v1/auth/token/self', { authorization: `Bearer ${token}` })).status).toBe(503);
    const certRevoke = await postJson(gw.url + '/api/v1/admin/certificates/revoke', { sha256: 'ab'.repeat(32) }, { authorization: 'Bearer admin-secret-0123456789' });
    expect(certRevoke.status).toBe(503);
    expect(certRevoke.body.error).toBe('store_unavailable');
    const ready = await getJson(gw.url + '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.error).toBe('store_unavailable');
    // Bounded: a generous multiple of the store timeout, far below any client timeout.
    expect(login.ms).toBeLessThan(TIMEOUT_MS * 10);
    expect(call.ms).toBeLessThan(TIMEOUT_MS * 10);

    await redis.restart(); // same port, same AOF: the token survives
    await expect.poll(async () => (await getJson(gw.url + '/readyz')).status, { timeout: 15_000, interval: 100 }).toBe(200);
    const again = await getJson(gw.url + '/api/v1/auth/forward', { authorization: `Bearer ${token}` });
    expect(again.status).toBe(204);
    expect((await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).status).toBe(200);
  });
});
