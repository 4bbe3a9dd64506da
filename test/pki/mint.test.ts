import { X509Certificate, createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { mintCertificate, type KeyAlg } from '../../src/pki/mint.js';

const ALGS: KeyAlg[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-1024', 'ed25519'];

describe('mintCertificate', () => {
  it.each(ALGS)('%s root -> leaf parses in node:crypto and verifies against the issuer key', async (alg) => {
    const root = await mintCertificate({ subject: 'CN=Root, O=Corp', ca: true, keyAlg: alg });
    const leaf = await mintCertificate({ subject: 'CN=agent-1, O=Corp', issuer: root, keyAlg: alg });
    const nRoot = new X509Certificate(root.der);
    const nLeaf = new X509Certificate(leaf.pem);
    expect(nRoot.verify(nRoot.publicKey)).toBe(true);
    expect(nLeaf.verify(nRoot.publicKey)).toBe(true);
    expect(nLeaf.checkIssued(nRoot)).toBe(true);
    expect(nRoot.ca).toBe(true);
    expect(nLeaf.ca).toBe(false);
    // The key PEM must load in node:crypto (and therefore node:tls) and match the certificate.
    expect(nLeaf.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('a child does not inherit the issuer key algorithm', async () => {
    const root = await mintCertificate({ subject: 'CN=Root', ca: true, keyAlg: 'rsa-2048' });
    const leaf = await mintCertificate({ subject: 'CN=leaf', issuer: root });
    const n = new X509Certificate(leaf.der);
    expect(n.publicKey.asymmetricKeyType).toBe('ec');
    expect(n.verify(new X509Certificate(root.der).publicKey)).toBe(true);
  });

  it('writes the issuer subject bytes verbatim and links AKI to the issuer SKI', async () => {
    const root = await mintCertificate({ subject: 'CN=Root, O=Corp, C=DE', ca: true });
    const leaf = await mintCertificate({ subject: 'CN=leaf', issuer: root });
    expect(leaf.cert.issuerName.toArrayBuffer()).toEqual(root.cert.subjectName.toArrayBuffer());
    expect(new X509Certificate(leaf.der).issuer).toBe(new X509Certificate(root.der).subject);
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.pem }).toString();
    const rootText = execFileSync('openssl', ['x509', '-noout', '-text'], { input: root.pem }).toString();
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(rootText)?.[1];
    expect(ski).toBeDefined();
    expect(text).toContain(`Authority Key Identifier: \n                ${ski}`);
  });

  it('encodes SANs, name constraints, EKU, CRL DPs, serial and validity as asked', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2031-01-01T00:00:00Z');
    const ca = await mintCertificate({
      subject: 'CN=Sub CA', ca: true, pathLen: 0, serial: '0a1b2c', notBefore, notAfter,
      nameConstraints: { permitted: [{ type: 'dns', value: 'corp.example' }, { type: 'ip', value: '10.0.0.0/8' }], excluded: [{ type: 'email', value: 'bad.example' }] },
      crlDistributionPoints: ['http://crl.example/ca.crl'],
    });
    const leaf = await mintCertificate({
      subject: 'CN=leaf', issuer: ca, eku: ['serverAuth', '1.2.3.4'],
      san: [{ type: 'dns', value: 'a.corp.example' }, { type: 'uri', value: 'spiffe://corp/agent' }, { type: 'email', value: 'a@corp.example' }, { type: 'ip', value: '10.1.2.3' }],
    });
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: ca.pem + leaf.pem }).toString();
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Permitted:\s*\n\s*DNS:corp\.example\s*\n\s*IP:10\.0\.0\.0\/255\.0\.0\.0/);
    expect(text).toMatch(/Excluded:\s*\n\s*email:bad\.example/);
    expect(text).toContain('URI:http://crl.example/ca.crl');
    expect(text).toContain('Serial Number: 662316 (0xa1b2c)');
    const n = new X509Certificate(leaf.der);
    expect(n.subjectAltName).toBe('DNS:a.corp.example, URI:spiffe://corp/agent, email:a@corp.example, IP Address:10.1.2.3');
    expect(n.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.2.3.4']);
    expect(new X509Certificate(ca.der).validFrom).toBe('Jan  1 00:00:00 2030 GMT');
  });

  it('signWith and issuerName forge an issuer whose signature does not verify', async () => {
    const root = await mintCertificate({ subject: 'CN=Root', ca: true });
    const rogue = await mintCertificate({ subject: 'CN=Rogue', ca: true });
    const forged = await mintCertificate({ subject: 'CN=leaf', issuer: root, signWith: rogue.keys.privateKey });
    const renamed = await mintCertificate({ subject: 'CN=leaf', issuer: rogue, issuerName: 'CN=Root' });
    const rootKey = new X509Certificate(root.der).publicKey;
    expect(new X509Certificate(forged.der).verify(rootKey)).toBe(false);
    expect(new X509Certificate(forged.der).verify(new X509Certificate(rogue.der).publicKey)).toBe(true);
    expect(new X509Certificate(renamed.der).issuer).toBe('CN=Root');
  });

  it('omits basicConstraints, keyUsage and the default EKU when told to', async () => {
    const leaf = await mintCertificate({ subject: 'CN=bare', omitBasicConstraints: true, omitKeyUsage: true, eku: [] });
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: leaf.pem }).toString();
    expect(text).not.toContain('Basic Constraints');
    expect(text).not.toContain('Key Usage: critical');
    expect(text).not.toContain('Extended Key Usage');
  });
});
