import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlv } from '../../src/pki/parsing/der.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type TestPki } from '../helpers/pki.js';
import { withTbsField } from '../helpers/resign.js';

/**
 * Issue 7, defect 4, through the login endpoint: a UniversalString CN of non-BMP characters used to
 * read as "agent-1" (asn1js keeps the low 16 bits) and matched the policy. Now names decode exactly,
 * and a BMPString / UniversalString that is not valid UCS-2 / UCS-4 makes the certificate malformed.
 */
const CN_OID = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03);
const cnName = (tag: number, value: Uint8Array) => tlv(0x30, tlv(0x31, tlv(0x30, CN_OID, tlv(tag, value))));
const ucs4 = (cps: number[]) => Uint8Array.from(cps.flatMap((p) => [p >>> 24, (p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff]));
const astralAgent1 = [...'agent-1'].map((c) => 0x10000 + c.charCodeAt(0));

describe('UniversalString and BMPString names at login', () => {
  let pki: TestPki;
  let gw: TestGateway;
  beforeAll(async () => {
    pki = await makeTestPki();
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-1'] }],
    });
  });
  afterAll(() => gw?.close());

  const loginWithCn = async (tag: number, value: Uint8Array) => {
    const leaf = withTbsField(await pki.leaf({ cn: 'placeholder' }), pki.interA, 'subject', cnName(tag, value));
    return postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { 'x-ssl-client-cert': nginxEscaped(leaf, pki.interA) });
  };

  it('a UniversalString "agent-1" of plane-1 characters does not match agent-1', async () => {
    const r = await loginWithCn(0x1c, ucs4(astralAgent1));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('common_name_not_allowed');
  });

  it('the same name in plain UniversalString characters does match (the decoding is exact, not a refusal of the type)', async () => {
    const r = await loginWithCn(0x1c, ucs4([...'agent-1'].map((c) => c.charCodeAt(0))));
    expect(r.status).toBe(200);
  });

  it.each([
    ['UniversalString beyond U+10FFFF', 0x1c, ucs4([0x110061, 0x67])],
    ['UniversalString with a surrogate code point', 0x1c, ucs4([0xd800, 0x61])],
    ['BMPString with an unpaired surrogate', 0x1e, Uint8Array.of(0xdc, 0x00, 0x00, 0x61)],
    ['BMPString of odd length', 0x1e, Uint8Array.of(0x00, 0x61, 0x00)],
  ])('%s is 400 malformed_certificate', async (_name, tag, value) => {
    const r = await loginWithCn(tag, value);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('malformed_certificate');
  });
});
