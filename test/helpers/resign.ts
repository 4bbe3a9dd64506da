import { readFileSync } from 'node:fs';
import { KeyObject, sign } from 'node:crypto';
import { readChildren, readNode, tlv } from '../../src/pki/parsing/der.js';
import type { MintedCert } from '../../src/pki/mint.js';

/**
 * A minted certificate with one TBSCertificate field replaced by raw DER, re-signed by its issuer
 * (ECDSA P-256 issuers, as makeTestPki mints them). For what @peculiar/x509 cannot write, e.g. a
 * UniversalString name (it re-encodes names and truncates those), or a key no generator makes.
 */

/**
 * A DSA SubjectPublicKeyInfo whose key is cut short inside its BIT STRING (found by fuzzing): OpenSSL
 * loads it, and node 20 aborts the process when asked for its details.
 */
export const MALFORMED_DSA_SPKI = Uint8Array.from(
  Buffer.from(readFileSync(new URL('../fixtures/keys/malformed-dsa-spki.hex', import.meta.url), 'utf8').trim(), 'hex'),
);

/** An EC P-256 SubjectPublicKeyInfo whose point is the point at infinity (the single octet 0x00). */
export const EC_INFINITY_SPKI = Uint8Array.from(Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex'));
export function withTbsField(cert: MintedCert, issuer: MintedCert, field: 'subject' | 'issuer' | 'subjectPublicKeyInfo', der: Uint8Array): MintedCert {
  const outer = readNode(cert.der).node;
  const [tbs, sigAlg] = readChildren(outer.value);
  const fields = readChildren(tbs!.value).map((f) => f.raw);
  const v = readChildren(tbs!.value)[0]!.tag === 0xa0 ? 1 : 0;
  fields[v + { issuer: 2, subject: 4, subjectPublicKeyInfo: 5 }[field]] = der;
  const newTbs = tlv(0x30, ...fields);
  const signature = sign('sha256', newTbs, { key: KeyObject.from(issuer.keys.privateKey), dsaEncoding: 'der' });
  const out = tlv(0x30, newTbs, sigAlg!.raw, tlv(0x03, Uint8Array.of(0), signature));
  const b64 = Buffer.from(out).toString('base64');
  return { ...cert, der: out, pem: `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n` };
}
