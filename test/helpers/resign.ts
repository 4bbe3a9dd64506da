import { KeyObject, sign } from 'node:crypto';
import { readChildren, readNode, tlv } from '../../src/pki/parsing/der.js';
import type { MintedCert } from '../../src/pki/mint.js';

/**
 * A minted certificate with one TBSCertificate field replaced by raw DER, re-signed by its issuer
 * (ECDSA P-256 issuers, as makeTestPki mints them). For what @peculiar/x509 cannot write, e.g. a
 * UniversalString name (it re-encodes names and truncates those).
 */
export function withTbsField(cert: MintedCert, issuer: MintedCert, field: 'subject' | 'issuer', der: Uint8Array): MintedCert {
  const outer = readNode(cert.der).node;
  const [tbs, sigAlg] = readChildren(outer.value);
  const fields = readChildren(tbs!.value).map((f) => f.raw);
  const v = readChildren(tbs!.value)[0]!.tag === 0xa0 ? 1 : 0;
  fields[v + (field === 'issuer' ? 2 : 4)] = der;
  const newTbs = tlv(0x30, ...fields);
  const signature = sign('sha256', newTbs, { key: KeyObject.from(issuer.keys.privateKey), dsaEncoding: 'der' });
  const out = tlv(0x30, newTbs, sigAlg!.raw, tlv(0x03, Uint8Array.of(0), signature));
  const b64 = Buffer.from(out).toString('base64');
  return { ...cert, der: out, pem: `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n` };
}
