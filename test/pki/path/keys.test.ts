import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../src/pki/parsing/certificate.js';
import type { KeyAlg } from '../../../src/pki/mint.js';
import { basicPki, mint, outcome } from '../pki-fixtures.js';
import { verifiesWith } from '../../../src/pki/path/signature.js';

type Pki = Awaited<ReturnType<typeof basicPki>>;

describe('key and signature algorithm policy', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await basicPki();
  });

  const LEAF_KEYS: [KeyAlg, string][] = [
    ['ec-p256', 'ok'],
    ['ec-p384', 'ok'],
    ['ed25519', 'ok'],
    ['rsa-2048', 'ok'],
    ['rsa-1024', 'weak_or_unsupported_key'],
  ];
  it.each(LEAF_KEYS)('leaf key %s -> %s', async (keyAlg, code) => {
    const leaf = await mint({ subject: 'CN=k', issuer: pki.int, keyAlg });
    expect(outcome({ leaf: leaf.parsed, presented: [pki.int.parsed], bundle: [pki.root.parsed] }).code).toBe(code);
  });

  const CA_KEYS: [KeyAlg, string][] = [
    ['ec-p384', 'ok'],
    ['ed25519', 'ok'],
    ['rsa-2048', 'ok'],
    ['rsa-1024', 'weak_or_unsupported_key'],
  ];
  it.each(CA_KEYS)('intermediate key %s -> %s (it signs the leaf with that key)', async (keyAlg, code) => {
    const int = await mint({ subject: 'CN=KInt', ca: true, issuer: pki.root, keyAlg });
    const leaf = await mint({ subject: 'CN=k', issuer: int });
    expect(outcome({ leaf: leaf.parsed, presented: [int.parsed], bundle: [pki.root.parsed] }).code).toBe(code);
  });

  it('an RSA-1024 trust anchor is refused', async () => {
    const root = await mint({ subject: 'CN=Weak Root', ca: true, keyAlg: 'rsa-1024' });
    const leaf = await mint({ subject: 'CN=k', issuer: root });
    expect(outcome({ leaf: leaf.parsed, bundle: [root.parsed] }).code).toBe('weak_or_unsupported_key');
  });

  it('a SHA-1 signature is refused as weak_signature_algorithm', async () => {
    const crypto = webcrypto as unknown as Crypto;
    const alg = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' };
    const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const root = await mint({ subject: 'CN=SHA1 Root', ca: true, keys });
    const cert = await x509.X509CertificateGenerator.create({
      subject: 'CN=sha1-leaf', issuer: root.cert.subjectName, publicKey: pki.leaf.keys.publicKey, signingKey: keys.privateKey,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' } as Algorithm,
      // RFC 5280 4.2.1.1: an issued certificate names its issuer's key (certgate refuses it otherwise).
      extensions: [new x509.AuthorityKeyIdentifierExtension(root.parsed.subjectKeyId!)],
    }, crypto);
    const leaf = parseCertificate(new Uint8Array(cert.rawData));
    expect(leaf.signatureAlgorithm).toBe('1.2.840.113549.1.1.5');
    // Signed correctly (OpenSSL's certificate object decides for SHA-1): refused by policy alone.
    expect(verifiesWith(leaf, root.parsed)).toBe(true);
    expect(outcome({ leaf, bundle: [root.parsed] }).code).toBe('weak_signature_algorithm');
  });
});
