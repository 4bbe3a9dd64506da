import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeOid, hasMinimalLength, readChildren, readNode, type DerNode } from './der.js';
import type { ParsedCert, PublicKeyInfo } from './certificate.js';

/*
 * A certificate's public key without an OpenSSL certificate object. Loading a key through OpenSSL
 * (X509Certificate#publicKey or createPublicKey) costs ~55–175 µs, more than the rest of a
 * certificate's decoding, and a login needs only the leaf key's type and size (the key-strength
 * policy): its signature is checked with the issuer's key, which is loaded once per issuer.
 *
 * keyInfoOf reads the common keys itself — RSA with a NULL parameter, ECDSA on P-256 / P-384 with
 * an uncompressed point, Ed25519 — and reports exactly what OpenSSL would: for EC that includes
 * OpenSSL's refusal of a point that is not on the curve (the key is then 'unknown'). Anything else
 * is loaded by OpenSSL, as before. test/pki/parsing/public-key.test.ts holds the two readings equal.
 */

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ED25519 = '1.3.101.112';

interface Curve { name: 'P-256' | 'P-384'; bytes: number; p: bigint; b: bigint }
/** SEC 2 / FIPS 186-4 domain parameters: a = p - 3 on both. */
const CURVES: Record<string, Curve> = {
  '1.2.840.10045.3.1.7': {
    name: 'P-256',
    bytes: 32,
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  '1.3.132.0.34': {
    name: 'P-384',
    bytes: 48,
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
};
const OPENSSL_CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

const toBigInt = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')}`));

/** y² = x³ - 3x + b (mod p) with both coordinates below p: what OpenSSL checks when it loads the point. */
function onCurve(c: Curve, point: Uint8Array): boolean {
  const x = toBigInt(point.subarray(1, 1 + c.bytes));
  const y = toBigInt(point.subarray(1 + c.bytes));
  if (x >= c.p || y >= c.p) return false;
  const rhs = (((x * x) % c.p) * x - 3n * x + c.b) % c.p;
  return (y * y - rhs) % c.p === 0n;
}

/** A positive, minimally encoded INTEGER's magnitude (no sign octet), or undefined. */
function positiveInteger(n: DerNode | undefined): Uint8Array | undefined {
  if (n?.tag !== 0x02 || !hasMinimalLength(n)) return undefined;
  const v = n.value;
  if (v.length === 0 || v[0]! & 0x80) return undefined;
  if (v[0] === 0) return v.length > 1 && v[1]! & 0x80 ? v.subarray(1) : undefined;
  return v;
}

const bitLength = (magnitude: Uint8Array): number => (magnitude.length - 1) * 8 + (32 - Math.clz32(magnitude[0]!));

/** The key details read from the SPKI's own bytes, or undefined outside the common subset above. */
function readDirectly(spki: DerNode): PublicKeyInfo | undefined {
  const parts = readChildren(spki.value);
  const [alg, key] = parts;
  if (parts.length !== 2 || alg?.tag !== 0x30 || key?.tag !== 0x03 || key.value[0] !== 0) return undefined;
  const [oidNode, params, ...rest] = readChildren(alg.value);
  if (oidNode?.tag !== 0x06 || rest.length > 0) return undefined;
  const oid = decodeOid(oidNode.value);
  const bits = key.value.subarray(1);
  if (oid === RSA_ENCRYPTION) {
    if (params?.tag !== 0x05 || params.value.length !== 0) return undefined;
    const { node: seq, next } = readNode(bits);
    if (seq.tag !== 0x30 || next !== bits.length || !hasMinimalLength(seq)) return undefined;
    const ints = readChildren(seq.value);
    const n = positiveInteger(ints[0]);
    const e = positiveInteger(ints[1]);
    // Outside 512..16384 bits (or a tiny exponent) OpenSSL decides.
    if (ints.length !== 2 || !n || !e || n.length < 64 || n.length > 2048 || e.length > 8) return undefined;
    const exponent = toBigInt(e);
    if (exponent < 3n) return undefined;
    return { algorithm: 'rsa', bits: bitLength(n), exponent, exponentBits: exponent.toString(2).length };
  }
  if (oid === EC_PUBLIC_KEY) {
    const curve = params?.tag === 0x06 ? CURVES[decodeOid(params.value)] : undefined;
    if (!curve || bits.length !== 1 + 2 * curve.bytes || bits[0] !== 0x04) return undefined;
    return onCurve(curve, bits) ? { algorithm: 'ec', curve: curve.name } : { algorithm: 'unknown' };
  }
  if (oid === ED25519) return params === undefined && bits.length === 32 ? { algorithm: 'ed25519' } : undefined;
  return undefined;
}

/**
 * The EC point at infinity (the single octet 0x00). OpenSSL loads such a key, but node:crypto
 * aborts the whole process (a failed native assertion, not an exception) when asked for its details
 * or its JWK: node 20's GetEcKeyDetail finds no EC_KEY behind it. A certificate carrying it must be
 * refused before anything reads those. The same holds for malformed keys of other types (a DSA key
 * with broken parameters aborts in GetDsaKeyDetail), so details are read only for the types the
 * key-strength policy can accept (src/pki/path/validate.ts keyProblem): every other type is refused
 * by its name alone.
 */
const TYPES_WITH_DETAILS = new Set(['rsa', 'rsa-pss', 'ec']);
function isEcInfinity(spki: DerNode): boolean {
  const key = readChildren(spki.value)[1];
  return key?.tag === 0x03 && key.value.length === 2 && key.value[0] === 0 && key.value[1] === 0;
}

/**
 * The key details as OpenSSL reports them for a loaded key. `spki`: the SubjectPublicKeyInfo
 * element it was loaded from; an EC key whose parameters are not a named curve OID (explicit curve
 * parameters, forbidden by RFC 5480 for certificates) gets curve 'explicit' whatever OpenSSL
 * recognises in them.
 */
export function keyInfoFromOpenSsl(load: () => KeyObject, spki: DerNode): PublicKeyInfo {
  try {
    const key = load();
    const type = key.asymmetricKeyType ?? 'unknown';
    if (!TYPES_WITH_DETAILS.has(type)) return { algorithm: type };
    if (type === 'ec' && isEcInfinity(spki)) return { algorithm: 'unknown' };
    const d = key.asymmetricKeyDetails ?? {};
    const spkiAlgorithm = readChildren(spki.value)[0];
    const params = spkiAlgorithm?.tag === 0x30 ? readChildren(spkiAlgorithm.value)[1] : undefined;
    const explicit = type === 'ec' && params?.tag !== 0x06;
    return {
      algorithm: type,
      ...(d.modulusLength !== undefined ? { bits: d.modulusLength } : {}),
      ...(d.publicExponent !== undefined ? { exponent: d.publicExponent, exponentBits: d.publicExponent.toString(2).length } : {}),
      ...(explicit ? { curve: 'explicit' } : d.namedCurve !== undefined ? { curve: OPENSSL_CURVE_NAMES[d.namedCurve] ?? d.namedCurve } : {}),
    };
  } catch {
    // OpenSSL could not load the key (unknown algorithm or curve, invalid point): validation refuses it.
    return { algorithm: 'unknown' };
  }
}

const loadSpki = (spkiDer: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.length), format: 'der', type: 'spki' });

/** The details of a common key read from the SPKI element's bytes; undefined for every other key. */
export function directKeyInfo(spki: DerNode): PublicKeyInfo | undefined {
  try {
    return readDirectly(spki);
  } catch {
    return undefined; // not even well-formed DER inside: OpenSSL decides
  }
}

/** The details of a SubjectPublicKeyInfo element: read directly for the common keys, else through OpenSSL. */
export function keyInfoOf(spki: DerNode): PublicKeyInfo {
  return directKeyInfo(spki) ?? keyInfoFromOpenSsl(() => loadSpki(spki.raw), spki);
}

/** The SubjectPublicKeyInfo element of a certificate's DER (a well-formed one: it was parsed). */
export function spkiOf(der: Uint8Array): DerNode {
  const [tbs] = readChildren(readNode(der).node.value);
  const fields = readChildren(tbs!.value);
  return fields[fields[0]?.tag === 0xa0 ? 6 : 5]!;
}

const loaded = new WeakMap<ParsedCert, KeyObject>();

/**
 * The certificate's public key as a node:crypto KeyObject, loaded once per parsed certificate (an
 * issuer verifies many children). Throws as X509Certificate#publicKey did when OpenSSL cannot load it.
 */
export function publicKeyObject(cert: ParsedCert): KeyObject {
  let key = loaded.get(cert);
  if (!key) {
    key = loadSpki(spkiOf(cert.der).raw);
    loaded.set(cert, key);
  }
  return key;
}
