import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintCertificate, type MintedCert } from '../../src/pki/mint.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { nginxEscaped } from '../helpers/pki.js';

/**
 * Issue 7, defect 5, through the login endpoint: a SAN `::ffff:10.1.2.3` is the IPv4 address
 * 10.1.2.3 for the CA's name constraints and for the identity's `IP:` policy alike.
 */
describe('IPv4-mapped IPv6 SANs at login', () => {
  let gw: TestGateway;
  let constrained: MintedCert;
  let open: MintedCert;
  beforeAll(async () => {
    constrained = await mintCertificate({ subject: 'CN=No-10 Root', ca: true, nameConstraints: { excluded: [{ type: 'ip', value: '10.0.0.0/8' }] } });
    open = await mintCertificate({ subject: 'CN=Open Root', ca: true });
    const identity = (id: string, ca: MintedCert) => ({ id, caCertificate: ca.pem, allowedSubjectAltNames: ['IP:10.0.0.0/8'] });
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [identity('constrained', constrained), identity('open', open)],
    });
  });
  afterAll(() => gw?.close());

  const login = async (issuer: MintedCert, identityId: string) => {
    const leaf = await mintCertificate({ subject: 'CN=agent-1', issuer, san: [{ type: 'ip', value: '::ffff:10.1.2.3' }] });
    return postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': nginxEscaped(leaf) });
  };

  it('an excluded 10.0.0.0/8 name constraint refuses the mapped SAN', async () => {
    const r = await login(constrained, 'constrained');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('name_constraints_violated');
  });

  it('without the constraint, the IP:10.0.0.0/8 policy matches the same SAN', async () => {
    const r = await login(open, 'open');
    expect(r.status).toBe(200);
  });
});
