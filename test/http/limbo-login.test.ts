import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';

interface LimboCase {
  id: string;
  expected_result: 'SUCCESS' | 'FAILURE';
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time: string | null;
}

const cases: LimboCase[] = JSON.parse(readFileSync(new URL('../fixtures/limbo/client-cases.json', import.meta.url), 'utf8')).testcases;
const identityId = (c: LimboCase) => c.id.replace(/[^a-z0-9._-]/gi, '-').toLowerCase();

/**
 * The x509-limbo CLIENT cases through the whole login path: each case's trust anchors become an
 * identity's bundle with no name policy; the peer and its intermediates arrive as an nginx header.
 */
describe('x509-limbo client cases through the login endpoint', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: cases.map((c) => ({ id: identityId(c), caCertificate: c.trusted_certs.join('\n') })),
    });
  });
  afterAll(() => gw?.close());

  it('has cases to run', () => expect(cases.length).toBeGreaterThanOrEqual(10));

  it.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    expect(c.validation_time).toBeNull(); // the login path validates at "now"
    const header = encodeURIComponent([c.peer_certificate, ...c.untrusted_intermediates].join(''));
    const res = await postJson(gw.url + LOGIN_PATH, { identityId: identityId(c) }, { 'x-ssl-client-cert': header });
    if (c.expected_result === 'SUCCESS') expect(res.body).toMatchObject({ tokenType: 'Bearer' });
    else {
      expect(res.status).toBe(401);
      expect(res.body.error).toMatch(/^[a-z_]+$/);
    }
  });
});
