import { KeyObject, sign, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../helpers/seeded-random.js';
import { parseCertificate, type ParsedCert } from '../../../src/pki/parsing/certificate.js';
import { readChildren, readNode, tlv } from '../../../src/pki/parsing/der.js';
import { publicKeyObject } from '../../../src/pki/parsing/public-key.js';
import { directlyVerifiable, verifiesWith } from '../../../src/pki/path/signature.js';
import { mintCertificate, type KeyAlg, type MintedCert } from '../../../src/pki/mint.js';
import { EC_INFINITY_SPKI, withTbsField } from '../../helpers/resign.js';
import { oidBytes } from '../parsing/equivalence.js';
import { tamperSignature } from '../pki-fixtures.js';

/**
 * verifiesWith checks the common signatures with node:crypto over the TBS bytes and leaves the rest
 * to OpenSSL's certificate object. OpenSSL's X509_verify is the reference: for every case — valid
 * signatures of each algorithm, and every way of breaking one — both must give the same verdict,
 * and the common valid ones must be checked directly.
 */

const OID = (o: string) => tlv(0x06, oidBytes(o));
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const ECDSA_SHA384 = '1.2.840.10045.4.3.3';

/** OpenSSL's verdict, as the gateway had it before: X509Certificate#verify with the issuer's key. */
const opensslVerdict = (child: ParsedCert, issuer: ParsedCert): boolean => {
  try {
    return new X509Certificate(child.der).verify(publicKeyObject(issuer));
  } catch {
    return false;
  }
};

/**
 * The certificate with its TBS signature algorithm and outer algorithm replaced, signed again by
 * `signer` with `hash` over the new TBS (ECDSA in DER, RSA PKCS#1 v1.5, Ed25519 with no hash).
 */
function resigned(cert: Uint8Array, signer: MintedCert, opts: { inner?: Uint8Array; outer?: Uint8Array; hash?: string | null; unusedBits?: number }): Uint8Array {
  const [tbs, sigAlg] = readChildren(readNode(cert).node.value);
  const fields = readChildren(tbs!.value).map((f) => f.raw);
  const v = readChildren(tbs!.value)[0]!.tag === 0xa0 ? 1 : 0;
  if (opts.inner) fields[v + 1] = opts.inner;
  const newTbs = tlv(0x30, ...fields);
  const key = KeyObject.from(signer.keys.privateKey);
  const signature = sign(opts.hash === undefined ? 'sha256' : opts.hash, newTbs, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : key);
  return tlv(0x30, newTbs, opts.outer ?? opts.inner ?? sigAlg!.raw, tlv(0x03, Uint8Array.of(opts.unusedBits ?? 0), signature));
}

type Case = [label: string, make: () => { child: Uint8Array; issuer: ParsedCert }, verdict: boolean, direct: boolean];

const ISSUER_KEYS: KeyAlg[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'];
const issuers = new Map<KeyAlg, MintedCert>();
const leaves = new Map<KeyAlg, MintedCert>();
let other: MintedCert;
const parsedOf = (m: MintedCert) => parseCertificate(m.der);
const ec = () => issuers.get('ec-p256')!;
const ecLeaf = () => leaves.get('ec-p256')!.der;

const CASES: Case[] = [
  ...ISSUER_KEYS.map((k): Case => [`a valid signature by a ${k} issuer`, () => ({ child: leaves.get(k)!.der, issuer: parsedOf(issuers.get(k)!) }), true, true]),
  ...ISSUER_KEYS.map((k): Case => [`a tampered signature by a ${k} issuer`, () => ({ child: tamperSignature(leaves.get(k)!.der), issuer: parsedOf(issuers.get(k)!) }), false, true]),
  ['a tampered TBS (serial)', () => {
    const der = Uint8Array.from(ecLeaf());
    const [tbs] = readChildren(readNode(der).node.value);
    const serial = readChildren(tbs!.value)[1]!;
    der[serial.value.byteOffset - der.byteOffset + 1]! ^= 1;
    return { child: der, issuer: parsedOf(ec()) };
  }, false, true],
  ['another issuer\'s key of the same type', () => ({ child: ecLeaf(), issuer: parsedOf(other) }), false, true],
  ['an RSA issuer key for an ECDSA signature', () => ({ child: ecLeaf(), issuer: parsedOf(issuers.get('rsa-2048')!) }), false, false],
  ['outer algorithm SHA-384, TBS algorithm SHA-256', () => ({ child: resigned(ecLeaf(), ec(), { outer: tlv(0x30, OID(ECDSA_SHA384)) }), issuer: parsedOf(ec()) }), false, false],
  ['both algorithms SHA-384 over a SHA-256 signature', () => ({ child: resigned(ecLeaf(), ec(), { inner: tlv(0x30, OID(ECDSA_SHA384)) }), issuer: parsedOf(ec()) }), false, true],
  ['both algorithms SHA-384, signed with SHA-384', () => ({ child: resigned(ecLeaf(), ec(), { inner: tlv(0x30, OID(ECDSA_SHA384)), hash: 'sha384' }), issuer: parsedOf(ec()) }), true, true],
  ['ECDSA with a NULL parameter in both places', () => ({ child: resigned(ecLeaf(), ec(), { inner: tlv(0x30, OID(ECDSA_SHA256), tlv(0x05)) }), issuer: parsedOf(ec()) }), true, false],
  ['a signature BIT STRING with unused bits', () => ({ child: resigned(ecLeaf(), ec(), { unusedBits: 1 }), issuer: parsedOf(ec()) }), false, false],
  ['SHA-1 with RSA (OpenSSL decides)', () => ({
    child: resigned(leaves.get('rsa-2048')!.der, issuers.get('rsa-2048')!, { inner: tlv(0x30, OID('1.2.840.113549.1.1.5'), tlv(0x05)), hash: 'sha1' }),
    issuer: parsedOf(issuers.get('rsa-2048')!),
  }), true, false],
  ['an issuer whose EC key is the point at infinity', () => ({ child: ecLeaf(), issuer: parsedOf(withTbsField(ec(), ec(), 'subjectPublicKeyInfo', EC_INFINITY_SPKI)) }), false, true],
];

describe('verifiesWith (the signature of a certificate, without an OpenSSL object for the child)', () => {
  beforeAll(async () => {
    for (const k of ISSUER_KEYS) {
      const issuer = await mintCertificate({ subject: `CN=${k} CA`, ca: true, keyAlg: k });
      issuers.set(k, issuer);
      leaves.set(k, await mintCertificate({ subject: `CN=${k} leaf`, issuer }));
    }
    other = await mintCertificate({ subject: 'CN=ec-p256 CA', ca: true });
  });

  it.each(CASES)('%s', (_label, make, verdict, direct) => {
    const { child, issuer } = make();
    const c = parseCertificate(child);
    expect(opensslVerdict(c, issuer)).toBe(verdict);
    expect(verifiesWith(c, issuer)).toBe(verdict);
    expect(directlyVerifiable(c, issuer)).toBe(direct);
  });

  it('takes the direct path for the common valid signatures, and OpenSSL\'s for the rest', () => {
    const directValid = CASES.filter(([, , verdict, direct]) => verdict && direct).length;
    const nativeValid = CASES.filter(([, , verdict, direct]) => verdict && !direct).length;
    expect(directValid).toBeGreaterThanOrEqual(5);
    expect(nativeValid).toBeGreaterThanOrEqual(2);
  });

  it('for signatures with one byte changed anywhere in the certificate: the same verdict as OpenSSL', () => {
    const rand = seededRandom(0x51e);
    let checked = 0;
    for (const k of ISSUER_KEYS) {
      const issuer = parsedOf(issuers.get(k)!);
      const original = leaves.get(k)!.der;
      for (let i = 0; i < 150; i++) {
        const der = Uint8Array.from(original);
        der[Math.floor(rand() * der.length)] = Math.floor(rand() * 256);
        let c: ParsedCert;
        try {
          c = parseCertificate(der);
        } catch {
          continue; // refused before any signature is checked
        }
        expect(verifiesWith(c, issuer), `${k} mutant ${i}`).toBe(opensslVerdict(c, issuer));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });
});
