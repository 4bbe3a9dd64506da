import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertgateProcess } from '../helpers/certgate-process.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/**
 * Two gateway processes share one real redis-server: a token's limits hold across both, under
 * races, exactly as they do on one.
 */
describe('two gateways sharing one Redis', () => {
  const USES = 5;
  let fleet: Fleet<CertgateProcess>;
  let a: CertgateProcess;
  let b: CertgateProcess;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    // One keys directory: the second gateway loads the key the first generated.
    fleet = await startFleet({
      size: 2,
      config: {
        log: { level: 'warn' },
        admin: { tokens: ['admin-secret-0123456789'] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [
          { id: 'limited', caCertificate: pki.rootA.pem, accessTokenNumUsesLimit: USES },
          { id: 'open', caCertificate: pki.rootA.pem, allowedCommonNames: ['nobody'] },
        ],
      },
    });
    [a, b] = fleet.gateways as [CertgateProcess, CertgateProcess];
  });
  afterAll(() => fleet?.stop());

  const login = async (gw: CertgateProcess, identityId: string) => {
    const res = await postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': header });
    expect(res.status).toBe(200);
    return res.body.accessToken as string;
  };

  it(`allows exactly ${USES} of ${20 * USES} concurrent calls spread over both gateways`, async () => {
    const token = await login(a, 'limited');
    const calls = Array.from({ length: 20 * USES }, (_, i) =>
      fetch(`${(i % 2 ? a : b).url}/api/v1/auth/forward`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({
        status: r.status,
        error: r.status === 204 ? undefined : ((await r.json()) as { error: string }).error,
      })),
    );
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.status === 204)).toHaveLength(USES);
    const refused = results.filter((r) => r.status !== 204);
    expect(refused.every((r) => r.status === 401 && r.error === 'token_uses_exhausted')).toBe(true);
  });

  it('a revoke on one gateway is refused on the other at once', async () => {
    const token = await login(a, 'limited');
    expect((await getJson(`${b.url}/api/v1/auth/token/self`, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await postJson(`${a.url}/api/v1/auth/token/revoke`, { accessToken: token })).status).toBe(200);
    const onB = await getJson(`${b.url}/api/v1/auth/forward`, { authorization: `Bearer ${token}` });
    expect(onB.status).toBe(401);
    expect(onB.body.error).toBe('token_revoked');
  });

  it('a revoke-all on one gateway covers tokens issued on the other', async () => {
    const token = await login(b, 'limited');
    const res = await postJson(`${a.url}/api/v1/admin/identities/limited/revoke-tokens`, {}, { authorization: 'Bearer admin-secret-0123456789' });
    expect(res.status).toBe(200);
    expect((await getJson(`${b.url}/api/v1/auth/forward`, { authorization: `Bearer ${token}` })).body.error).toBe('token_revoked');
  });

  it('renews on one gateway a token issued by the other, keeping its uses', async () => {
    const token = await login(a, 'limited');
    expect((await getJson(`${a.url}/api/v1/auth/forward`, { authorization: `Bearer ${token}` })).status).toBe(204);
    const renewed = await postJson(`${b.url}/api/v1/auth/token/renew`, { accessToken: token });
    expect(renewed.status).toBe(200);
    const self = await getJson(`${a.url}/api/v1/auth/token/self`, { authorization: `Bearer ${renewed.body.accessToken}` });
    expect(self.body.usesRemaining).toBe(USES - 1);
  });
});
