import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { startInProcessFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/**
 * Revoke-all across gateways whose clocks disagree. Gateway A (the issuer) runs an hour ahead of
 * gateway B (where the operator calls the admin API). With the watermark taken from B's clock and
 * compared with A's createdAt, A's tokens issued before the revoke-all survived it for an hour.
 * With Redis both sides are read from Redis TIME.
 */
const HOUR = 3_600_000;
const ADMIN = 'admin-secret-0123456789';

describe('revoke-all with skewed gateway clocks on a shared Redis', () => {
  let fleet: Fleet<TestGateway>;
  let ahead: TestGateway;
  let behind: TestGateway;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    const now = Date.now();
    fleet = await startInProcessFleet({
      doc: {
        admin: { tokens: [ADMIN] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem }],
      },
      members: [{ clock: new ManualClock(now + HOUR) }, { clock: new ManualClock(now) }],
    });
    [ahead, behind] = fleet.gateways as [TestGateway, TestGateway];
  });
  afterAll(() => fleet?.stop());

  const login = async (gw: TestGateway) => {
    const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': header });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.accessToken as string;
  };
  const use = (gw: TestGateway, token: string) => getJson(`${gw.url}/api/v1/auth/forward`, { authorization: `Bearer ${token}` });

  it('revokes a token issued by the gateway whose clock runs ahead, then lets new logins through', async () => {
    const token = await login(ahead);
    expect((await use(ahead, token)).status).toBe(204);
    const res = await postJson(`${behind.url}/api/v1/admin/identities/agents/revoke-tokens`, {}, { authorization: `Bearer ${ADMIN}` });
    expect(res.status).toBe(200);
    const after = await use(ahead, token);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('token_revoked');
    // A login after the revoke-all, on the gateway whose clock lags the watermark's host, is valid.
    const fresh = await login(behind);
    expect((await use(behind, fresh)).status).toBe(204);
    const fresh2 = await login(ahead);
    expect((await use(ahead, fresh2)).status).toBe(204);
  });
});
