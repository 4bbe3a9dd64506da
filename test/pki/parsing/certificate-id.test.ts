import { describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../src/pki/parsing/certificate.js';
import { dnText, issuerSerialKey, normalizeIssuer, normalizeSerial, normalizeSha256 } from '../../../src/pki/parsing/certificate-id.js';
import { mintCertificate } from '../../../src/pki/mint.js';

describe('certificate names for revoke', () => {
  it('normalizes a SHA-256: case, colons; refuses anything else', () => {
    expect(normalizeSha256('AB:'.repeat(31) + 'AB')).toBe('ab'.repeat(32));
    expect(normalizeSha256(' ' + 'Cd'.repeat(32) + ' ')).toBe('cd'.repeat(32));
    for (const bad of ['', 'ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32), '0x' + 'ab'.repeat(31)]) expect(normalizeSha256(bad)).toBeUndefined();
  });

  it('normalizes a serial to ParsedCert.serial: hex, no leading zero octets, colons and 0x allowed', () => {
    expect(normalizeSerial('00:8F:01')).toBe('8f01');
    expect(normalizeSerial('0x8f01')).toBe('8f01');
    expect(normalizeSerial('f01')).toBe('0f01');
    expect(normalizeSerial('00')).toBe('00');
    for (const bad of ['', 'xyz', '12 34', 'a'.repeat(65)]) expect(normalizeSerial(bad)).toBeUndefined();
  });

  it('takes an issuer DN as certgate renders it, space after commas optional, and refuses what would not round-trip', async () => {
    const ca = await mintCertificate({ subject: 'CN=Issuing CA\\, Ltd, OU=Ops+L=Paris, O=Example, C=FR', ca: true });
    const leaf = parseCertificate((await mintCertificate({ subject: 'CN=agent', issuer: ca })).der);
    expect(normalizeIssuer(leaf.issuer)).toBe(leaf.issuer);
    expect(normalizeIssuer(leaf.issuer.replace(/(?<!\\), /g, ','))).toBe(leaf.issuer);
    expect(dnText(leaf.issuerDer)).toBe(leaf.issuer);
    for (const bad of ['', 'garbage', ' CN = x', 'cn=x', 'CN=x,, O=y']) expect(normalizeIssuer(bad)).toBeUndefined();
  });

  it('keys an issuer and serial pair by a fixed-length hash', () => {
    expect(issuerSerialKey('CN=a', '01')).toMatch(/^[0-9a-f]{64}$/);
    expect(issuerSerialKey('CN=a', '01')).not.toBe(issuerSerialKey('CN=a', '02'));
  });
});
