import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlv } from '../../../src/pki/parsing/der.js';
import { pssProblem } from '../../../src/pki/parsing/pss.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { nginxEscaped } from '../../helpers/pki.js';
import { mint, outcome } from '../pki-fixtures.js';

/**
 * Issue 7, defect 6: RSASSA-PSS names its hash in its parameters, so SHA-1 (or a mismatched MGF1
 * hash, or an odd salt) through PSS must be refused like sha1WithRSA: weak_signature_algorithm.
 */
const subtle = (webcrypto as unknown as Crypto).subtle;
const pssKeys = (hash: string) =>
  subtle.generateKey({ name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash }, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
const pkcs1Keys = (hash: string) =>
  subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash }, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;

/** A root signing its leaf with `keys` and `alg`. */
async function chainSignedWith(keys: CryptoKeyPair, alg: Algorithm) {
  const root = await mint({ subject: 'CN=PSS Root', ca: true, keys, signingAlgorithm: alg });
  const leaf = await mint({ subject: 'CN=agent-1', issuer: root, signingAlgorithm: alg });
  return { root, leaf };
}

describe('RSASSA-PSS parameters on certificates', () => {
  it('accepts PSS with SHA-256, MGF1/SHA-256 and a 32-byte salt', async () => {
    const { root, leaf } = await chainSignedWith(await pssKeys('SHA-256'), { name: 'RSA-PSS', saltLength: 32 } as Algorithm);
    expect(outcome({ leaf: leaf.parsed, bundle: [root.parsed] }).code).toBe('ok');
  });

  it('refuses PSS with SHA-1 exactly as sha1WithRSA is refused', async () => {
    const pss = await chainSignedWith(await pssKeys('SHA-1'), { name: 'RSA-PSS', saltLength: 20 } as Algorithm);
    const pkcs1 = await chainSignedWith(await pkcs1Keys('SHA-1'), { name: 'RSASSA-PKCS1-v1_5' });
    expect(outcome({ leaf: pkcs1.leaf.parsed, bundle: [pkcs1.root.parsed] }).code).toBe('weak_signature_algorithm');
    const got = outcome({ leaf: pss.leaf.parsed, bundle: [pss.root.parsed] });
    expect(got).toMatchObject({ code: 'weak_signature_algorithm', message: expect.stringMatching(/sha1/) });
  });

  it('refuses PSS with SHA-256 and a salt other than the hash length', async () => {
    const { root, leaf } = await chainSignedWith(await pssKeys('SHA-256'), { name: 'RSA-PSS', saltLength: 0 } as Algorithm);
    expect(outcome({ leaf: leaf.parsed, bundle: [root.parsed] }).code).toBe('weak_signature_algorithm');
  });

  // Parameters no signer here will produce, checked on their encoding.
  const OID = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
  const NULL = tlv(0x05);
  const alg = (oidHex: string) => tlv(0x30, OID(oidHex), NULL);
  const SHA1 = '2b0e03021a';
  const SHA256 = '608648016503040201';
  const MGF1 = '2a864886f70d010108';
  const params = (hash: string, mgfHash: string, salt: number, trailer?: number) =>
    tlv(0x30, tlv(0xa0, alg(hash)), tlv(0xa1, tlv(0x30, OID(MGF1), alg(mgfHash))), tlv(0xa2, tlv(0x02, Uint8Array.of(salt))),
      ...(trailer === undefined ? [] : [tlv(0xa3, tlv(0x02, Uint8Array.of(trailer)))]));
  it.each([
    ['SHA-256, MGF1/SHA-256, salt 32', params(SHA256, SHA256, 32), undefined],
    ['SHA-256, MGF1/SHA-1 (mismatched MGF hash)', params(SHA256, SHA1, 32), /MGF1\/sha1/],
    ['SHA-1 everywhere', params(SHA1, SHA1, 20), /sha1/],
    ['SHA-256, salt 20', params(SHA256, SHA256, 20), /salt of 20/],
    ['SHA-256, trailer field 2', params(SHA256, SHA256, 32, 2), /trailer/],
    ['absent parameters (the SHA-1 defaults)', undefined, /SHA-1/],
    ['empty parameters (the SHA-1 defaults)', tlv(0x30), /sha1/],
  ] as const)('%s', (_name, der, problem) => {
    const got = pssProblem(der);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(problem);
  });
});

describe('RSASSA-PSS/SHA-1 through the login endpoint', () => {
  let gw: TestGateway;
  let bad: Awaited<ReturnType<typeof chainSignedWith>>;
  let good: Awaited<ReturnType<typeof chainSignedWith>>;
  beforeAll(async () => {
    bad = await chainSignedWith(await pssKeys('SHA-1'), { name: 'RSA-PSS', saltLength: 20 } as Algorithm);
    good = await chainSignedWith(await pssKeys('SHA-256'), { name: 'RSA-PSS', saltLength: 32 } as Algorithm);
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [
        { id: 'sha1', caCertificate: bad.root.pem, allowedCommonNames: ['agent-1'] },
        { id: 'sha256', caCertificate: good.root.pem, allowedCommonNames: ['agent-1'] },
      ],
    });
  });
  afterAll(() => gw?.close());

  it('answers 401 weak_signature_algorithm for the SHA-1 one and a token for the SHA-256 one', async () => {
    const refused = await postJson(gw.url + LOGIN_PATH, { identityId: 'sha1' }, { 'x-ssl-client-cert': nginxEscaped(bad.leaf) });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('weak_signature_algorithm');
    const ok = await postJson(gw.url + LOGIN_PATH, { identityId: 'sha256' }, { 'x-ssl-client-cert': nginxEscaped(good.leaf) });
    expect(ok.status).toBe(200);
  });
});
