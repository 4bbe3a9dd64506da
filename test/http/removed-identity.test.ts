import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/**
 * An operator removes an identity from the configuration and rolls the gateways: the tokens it
 * issued stop working on the new configuration at once, and revoking it still works.
 */
describe('tokens of an identity that is no longer configured', () => {
  let fleet: Fleet<TestGateway>;
  let before: TestGateway;
  let after: TestGateway;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    fleet = await startInProcessFleet({
      doc: { trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }] },
      members: [
        { doc: { identities: [{ id: 'kept', caCertificate: pki.rootA.pem }, { id: 'removed', caCertificate: pki.rootA.pem }] } },
        { doc: { admin: { tokens: ['admin-secret-0123456789'] }, identities: [{ id: 'kept', caCertificate: pki.rootA.pem }] } },
      ],
    });
    [before, after] = fleet.gateways as [TestGateway, TestGateway];
  });
  afterAll(() => fleet?.stop());

  it('refuses them on a gateway without the identity, and still accepts the kept one', async () => {
    const removed = (await postJson(before.url + LOGIN_PATH, { identityId: 'removed' }, { 'x-ssl-client-cert': header })).body.accessToken;
    const kept = (await postJson(before.url + LOGIN_PATH, { identityId: 'kept' }, { 'x-ssl-client-cert': header })).body.accessToken;
    expect((await getJson(before.url + '/api/v1/auth/forward', { authorization: `Bearer ${removed}` })).status).toBe(204);
    const refused = await getJson(after.url + '/api/v1/auth/forward', { authorization: `Bearer ${removed}` });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('token_unknown');
    expect((await getJson(after.url + '/api/v1/auth/forward', { authorization: `Bearer ${kept}` })).status).toBe(204);
  });

  it('lets an operator revoke-all an identity that is no longer configured', async () => {
    const removed = (await postJson(before.url + LOGIN_PATH, { identityId: 'removed' }, { 'x-ssl-client-cert': header })).body.accessToken;
    const res = await postJson(after.url + '/api/v1/admin/identities/removed/revoke-tokens', {}, { authorization: 'Bearer admin-secret-0123456789' });
    expect(res.status).toBe(200);
    expect((await getJson(before.url + '/api/v1/auth/forward', { authorization: `Bearer ${removed}` })).body.error).toBe('token_revoked');
  });
});
