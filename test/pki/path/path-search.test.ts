import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../src/pki/parsing/certificate.js';
import { MAX_PATH_LENGTH } from '../../../src/pki/path/validate.js';
import { basicPki, mint, outcome } from '../pki-fixtures.js';

/** Search robustness: loops, depth, adversarial candidate sets, unknown critical extensions. */
describe('path search', () => {
  it('a cross-signing cycle among presented certificates terminates with chain_incomplete', async () => {
    const a1 = await mint({ subject: 'CN=Loop A', ca: true });
    const b = await mint({ subject: 'CN=Loop B', ca: true, issuer: a1 });
    const a2 = await mint({ subject: 'CN=Loop A', ca: true, issuer: b, keys: a1.keys });
    const leaf = await mint({ subject: 'CN=agent', issuer: a1 });
    const trusted = (await basicPki('Elsewhere')).root;
    const got = outcome({ leaf: leaf.parsed, presented: [a2.parsed, b.parsed, a1.parsed], bundle: [trusted.parsed] });
    expect(got.code).toBe('chain_incomplete');
  });

  it('a cycle does not stop the search from finding the anchor', async () => {
    const a1 = await mint({ subject: 'CN=Loop A', ca: true });
    const b = await mint({ subject: 'CN=Loop B', ca: true, issuer: a1 });
    const a2 = await mint({ subject: 'CN=Loop A', ca: true, issuer: b, keys: a1.keys });
    const leaf = await mint({ subject: 'CN=agent', issuer: a1 });
    const got = outcome({ leaf: leaf.parsed, presented: [a2.parsed, b.parsed], bundle: [a1.parsed] });
    expect(got).toMatchObject({ code: 'ok', path: ['agent', 'Loop A'] });
  });

  it(`a path of ${MAX_PATH_LENGTH} certificates is accepted, one more is refused`, async () => {
    const root = await mint({ subject: 'CN=Deep Root', ca: true });
    const ints = [];
    let issuer = root;
    for (let i = 1; i <= MAX_PATH_LENGTH - 1; i++) {
      issuer = await mint({ subject: `CN=Deep ${i}`, ca: true, issuer });
      ints.push(issuer);
    }
    const presented = ints.map((c) => c.parsed);
    const ok = await mint({ subject: 'CN=agent', issuer: ints[ints.length - 2]! });
    expect(outcome({ leaf: ok.parsed, presented, bundle: [root.parsed] }).path).toHaveLength(MAX_PATH_LENGTH);
    const tooDeep = await mint({ subject: 'CN=agent', issuer: ints[ints.length - 1]! });
    expect(outcome({ leaf: tooDeep.parsed, presented, bundle: [root.parsed] }).code).toBe('chain_incomplete');
  });

  it('many presented impostors with the root DN are all rejected, and the real intermediate among them still found', async () => {
    const { root, int, leaf } = await basicPki();
    const impostors = [];
    for (let i = 0; i < 12; i++) {
      impostors.push((await mint({ subject: root.subject, ca: true })).parsed);
      impostors.push((await mint({ subject: int.subject, ca: true, issuer: root, signWith: (await mint({ subject: 'CN=x', ca: true })).keys.privateKey })).parsed);
    }
    expect(outcome({ leaf: leaf.parsed, presented: impostors, bundle: [root.parsed] }).code).toBe('signature_invalid');
    expect(outcome({ leaf: leaf.parsed, presented: [...impostors, int.parsed], bundle: [root.parsed] }).code).toBe('ok');
  });

  it('the search work is capped when a client floods same-DN candidates', async () => {
    const { root } = await basicPki();
    const signer = await mint({ subject: 'CN=Flood', ca: true });
    // 80 distinct certificates that all verify the leaf and all claim to be issued by "CN=Flood".
    const flood = [];
    for (let i = 0; i < 80; i++) flood.push((await mint({ subject: 'CN=Flood', ca: true, keys: signer.keys, issuerName: 'CN=Flood', signWith: signer.keys.privateKey })).parsed);
    const leaf = await mint({ subject: 'CN=agent', issuer: signer });
    // The refusal says the step/signature budget ran out: the search stopped instead of trying all 80.
    const got = outcome({ leaf: leaf.parsed, presented: flood, bundle: [root.parsed] });
    expect(got).toMatchObject({ code: 'chain_incomplete', message: expect.stringMatching(/gave up/) });
  });

  it('an unknown critical extension on the leaf is refused', async () => {
    const { root } = await basicPki();
    const crypto = webcrypto as unknown as Crypto;
    const keys = (await mint({ subject: 'CN=k' })).keys;
    const cert = await x509.X509CertificateGenerator.create({
      subject: 'CN=crit', issuer: root.cert.subjectName, publicKey: keys.publicKey, signingKey: root.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      extensions: [new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00])), new x509.AuthorityKeyIdentifierExtension(root.parsed.subjectKeyId!)],
    }, crypto);
    const leaf = parseCertificate(new Uint8Array(cert.rawData));
    expect(leaf.unhandledCriticalExtensions).toEqual(['1.3.6.1.4.1.99999.1']);
    expect(outcome({ leaf, bundle: [root.parsed] }).code).toBe('unhandled_critical_extension');
  });
});
