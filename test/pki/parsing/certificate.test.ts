import { describe, expect, it } from 'vitest';
import { KeyUsageFlags } from '@peculiar/x509';
import { CertgateError } from '../../../src/errors.js';
import { parseCertificate, parsePemBundle } from '../../../src/pki/parsing/certificate.js';
import type { KeyAlg } from '../../../src/pki/mint.js';
import { mint } from '../pki-fixtures.js';

describe('parseCertificate', () => {
  it('exposes names, SANs, validity, constraints, usages and key ids', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const root = await mint({ subject: 'CN=Root, O=Corp', ca: true, pathLen: 1, nameConstraints: { permitted: [{ type: 'dns', value: 'corp.example' }] } });
    const leaf = await mint({
      subject: 'CN=agent-1, CN=agent-alias, O=Corp', issuer: root, serial: '00ff01', notBefore, notAfter: new Date('2031-01-01T00:00:00Z'),
      san: [{ type: 'dns', value: 'a.corp.example' }, { type: 'uri', value: 'spiffe://corp/a' }, { type: 'email', value: 'a@corp.example' }, { type: 'ip', value: '10.0.0.1' }, { type: 'ip', value: '2001:db8::1' }],
      eku: ['clientAuth', 'serverAuth'], crlDistributionPoints: ['http://crl.corp.example/root.crl'],
    });
    const c = leaf.parsed;
    expect(c.subject).toBe('CN=agent-1, CN=agent-alias, O=Corp');
    expect(c.issuer).toBe('CN=Root, O=Corp');
    expect(c.commonNames).toEqual(['agent-1', 'agent-alias']);
    expect(c.subjectAltNames).toEqual([
      { type: 'dns', value: 'a.corp.example' }, { type: 'uri', value: 'spiffe://corp/a' }, { type: 'email', value: 'a@corp.example' },
      { type: 'ip', value: '10.0.0.1' }, { type: 'ip', value: '2001:db8::1' },
    ]);
    expect(c.notBefore).toEqual(notBefore);
    expect(c.serial).toBe('ff01');
    expect(c).toMatchObject({ isCA: false, selfIssued: false, keyUsage: KeyUsageFlags.digitalSignature, extendedKeyUsage: ['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1'] });
    expect(c.crlDistributionPoints).toEqual(['http://crl.corp.example/root.crl']);
    expect(c.authorityKeyId).toBe(root.parsed.subjectKeyId);
    expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(root.parsed).toMatchObject({ isCA: true, pathLen: 1, selfIssued: true, keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign });
    expect(root.parsed.nameConstraints).toEqual({ permitted: [{ type: 'dns', value: 'corp.example' }], excluded: [] });
  });

  it('leaves extendedKeyUsage and keyUsage undefined when the extensions are absent', async () => {
    const c = (await mint({ subject: 'CN=bare', eku: [], omitKeyUsage: true })).parsed;
    expect(c.extendedKeyUsage).toBeUndefined();
    expect(c.keyUsage).toBeUndefined();
  });

  it.each([
    ['ec-p256', { algorithm: 'ec', curve: 'P-256' }],
    ['ec-p384', { algorithm: 'ec', curve: 'P-384' }],
    ['rsa-2048', { algorithm: 'rsa', bits: 2048, exponent: 65537n, exponentBits: 17 }],
    ['rsa-1024', { algorithm: 'rsa', bits: 1024, exponent: 65537n, exponentBits: 17 }],
    ['ed25519', { algorithm: 'ed25519' }],
  ] as [KeyAlg, object][])('describes a %s public key', async (keyAlg, info) => {
    expect((await mint({ subject: 'CN=k', keyAlg })).parsed.publicKey).toEqual(info);
  });

  it.each([
    ['random bytes', new Uint8Array([1, 2, 3, 4, 5])],
    ['empty input', new Uint8Array()],
    ['a DER SEQUENCE that is not a certificate', new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])],
  ])('refuses %s as malformed_certificate', (_n, der) => {
    expect(() => parseCertificate(der)).toThrow(expect.objectContaining({ code: 'malformed_certificate', status: 400 }));
  });

  it('refuses truncated DER and trailing garbage as malformed_certificate', async () => {
    const { der } = await mint({ subject: 'CN=x' });
    for (const bad of [der.subarray(0, der.length - 10), new Uint8Array([...der, 0])]) {
      const err = (() => { try { parseCertificate(bad); } catch (e) { return e; } })();
      expect(err).toBeInstanceOf(CertgateError);
      expect((err as CertgateError).code).toBe('malformed_certificate');
    }
  });
});

describe('parsePemBundle', () => {
  it('returns every certificate in order, ignoring explanatory text and CRLF line ends', async () => {
    const a = await mint({ subject: 'CN=A' });
    const b = await mint({ subject: 'CN=B' });
    const pem = `# corporate roots\r\nsubject=CN=A\r\n${a.pem.replace(/\n/g, '\r\n')}\nsome comment\n${b.pem}`;
    expect(parsePemBundle(pem).map((c) => c.subject)).toEqual(['CN=A', 'CN=B']);
    expect(parsePemBundle('')).toEqual([]);
  });

  it.each([
    ['a private key block', async () => (await mint({ subject: 'CN=k' })).keyPem, /unexpected armor/],
    ['a missing END line', async () => (await mint({ subject: 'CN=k' })).pem.replace('-----END CERTIFICATE-----', ''), /missing -----END CERTIFICATE-----/],
    ['non-base64 content', async () => (await mint({ subject: 'CN=k' })).pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!'), /not base64/],
    ['a mangled armor line', async () => (await mint({ subject: 'CN=k' })).pem.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE----- x'), /unexpected armor/],
    ['a block that is not a certificate', async () => '-----BEGIN CERTIFICATE-----\nAQIDBA==\n-----END CERTIFICATE-----\n', /certificate at line 1/],
  ])('throws a readable error for %s', async (_n, make, reason) => {
    const pem = await make();
    expect(() => parsePemBundle(pem)).toThrow(reason);
  });
});
