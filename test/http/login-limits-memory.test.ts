/**
 * `limits:` on one in-process gateway with the in-memory store: the same limits as with Redis,
 * windows timed by the injected clock (no sleeping), the documented defaults, and 0 = no limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { ManualClock } from '../../src/util/clock.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

const pki = await makeTestPki();
const header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const start = async (limits: Record<string, number>) => {
  gw = await startTestGateway({
    limits,
    trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
    identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
  });
  return gw;
};
const login = (g: TestGateway, address: string) => postJson(g.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header, 'x-forwarded-for': address });

describe('login limits with the in-memory store', () => {
  it('defaults to 600 logins per address and 6000 per identity a minute, 100000 outstanding tokens', () => {
    const config = buildConfig({ issuer: 'https://certgate.test' }, { baseDir: '.', env: {} });
    expect(config.limits).toEqual({ loginsPerIpPerMinute: 600, loginsPerIdentityPerMinute: 6000, outstandingTokensPerIdentity: 100_000 });
  });

  it('refuses the address over its rate with Retry-After until the minute is over, then admits it again', async () => {
    const g = await start({ loginsPerIpPerMinute: 2 });
    const clock = g.clock as ManualClock;
    expect((await login(g, '192.0.2.1')).status).toBe(200);
    clock.advance(15_000);
    expect((await login(g, '192.0.2.1')).status).toBe(200);
    const refused = await login(g, '192.0.2.1');
    expect([refused.status, refused.body.error, refused.headers.get('retry-after')]).toEqual([429, 'rate_limited', '45']);
    expect((await login(g, '192.0.2.2')).status).toBe(200);
    clock.advance(45_000);
    expect((await login(g, '192.0.2.1')).status).toBe(200);
  });

  it('refuses the identity over its rate and over its outstanding tokens', async () => {
    const g = await start({ loginsPerIdentityPerMinute: 3, outstandingTokensPerIdentity: 2 });
    expect((await login(g, '192.0.2.1')).status).toBe(200);
    expect((await login(g, '192.0.2.2')).status).toBe(200);
    const overQuota = await login(g, '192.0.2.3');
    expect([overQuota.status, overQuota.body.error, overQuota.headers.get('retry-after')]).toEqual([429, 'token_quota_exceeded', '7200']);
    const overRate = await login(g, '192.0.2.4');
    expect([overRate.status, overRate.body.error, overRate.headers.get('retry-after')]).toEqual([429, 'rate_limited', '60']);
  });

  it('applies no limit that is set to 0', async () => {
    const g = await start({ loginsPerIpPerMinute: 0, loginsPerIdentityPerMinute: 0, outstandingTokensPerIdentity: 0 });
    for (let i = 0; i < 5; i++) expect((await login(g, '192.0.2.1')).status).toBe(200);
  });
});
