import { badRequest } from '../../errors.js';
import { decodeReference } from './certificate-reference.js';
import { bytesEqual, decodeOid, hasMinimalLength, hex, isStrictOid, latin1, readNode, serialHex, serialOctets, sha256Hex, type DerNode } from './der.js';
import { decodeName } from './dn.js';
import { parseGeneralNames, parseNameConstraints, type GeneralNameValue, type NameConstraints } from './general-names.js';
import { bytesToIp } from './ip.js';
import { OID, HANDLED, AUTHORITY_INFO_ACCESS } from './extension-oids.js';
import { keyInfoOf } from './public-key.js';

export type { GeneralNameValue, NameConstraints } from './general-names.js';
export { decodeOid } from './der.js';

export interface TypedName { type: 'dns' | 'uri' | 'email' | 'ip'; value: string }
export interface PublicKeyInfo {
  /** node:crypto asymmetricKeyType: 'rsa', 'rsa-pss', 'ec', 'ed25519', …; 'unknown' if unreadable. */
  algorithm: string;
  /** RSA modulus length. */
  bits?: number;
  /** RSA public exponent and its length in bits. */
  exponent?: bigint;
  exponentBits?: number;
  /** EC curve as 'P-256' / 'P-384' / 'P-521', or OpenSSL's name for other curves. */
  curve?: string;
}

/** One certificate, decoded once, holding everything identity matching and path validation read. */
export interface ParsedCert {
  der: Uint8Array;
  /** Lowercase hex SHA-256 of the DER: the certificate's identity (token binding, dedup). */
  sha256: string;
  /** @peculiar/x509 rendering, attributes in encoded order (round-trips mintCertificate's subject). */
  subject: string;
  issuer: string;
  /** Every CN attribute of the subject, in order. */
  commonNames: string[];
  /** dns / uri / email / ip SANs in certificate order; other name forms are omitted. */
  subjectAltNames: TypedName[];
  /** Every SAN including the forms above omits (directoryName, otherName …), for name constraints. */
  allSubjectAltNames: GeneralNameValue[];
  /** emailAddress attributes of the subject DN (name constraints apply to them too). */
  subjectEmails: string[];
  notBefore: Date;
  notAfter: Date;
  /** basicConstraints cA. */
  isCA: boolean;
  pathLen?: number;
  /** @peculiar/x509 KeyUsageFlags bit set; undefined when the extension is absent. */
  keyUsage?: number;
  /** EKU OIDs; undefined when the extension is absent. */
  extendedKeyUsage?: string[];
  selfIssued: boolean;
  /** Lowercase hex of the serial INTEGER without leading zero octets. */
  serial: string;
  publicKey: PublicKeyInfo;
  signatureAlgorithm: string;
  /** The raw parameters element of signatureAlgorithm, when present (RSASSA-PSS needs them). */
  signatureParams?: Uint8Array;
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  subjectRdns: Uint8Array[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  nameConstraints?: NameConstraints;
  crlDistributionPoints: string[];
  /** OIDs of critical extensions this module does not process; validation refuses them. */
  unhandledCriticalExtensions: string[];
  /** X.509 version: 1, 2 or 3. */
  version: number;
  /** Octets of the serial number's value (without a leading sign octet); 0 for serial zero. */
  serialOctets: number;
  /** OIDs of every extension, and of the critical ones, in certificate order (RFC 5280 conformance checks). */
  extensionOids: string[];
  criticalExtensionOids: string[];
  /** The AKI carries authorityCertIssuer / authorityCertSerialNumber (CABF forbids them). */
  authorityKeyIdHasIssuerSerial?: true;
}

// Not processed (nor AUTHORITY_INFO_ACCESS), but @peculiar/x509 decodes them, so the reference refuses malformed values.
const ISSUER_ALT_NAME = '2.5.29.18';

/*
 * Fast decoder. It reads the certificate once with the DER reader of der.ts, with no OpenSSL
 * certificate object (the key's details: public-key.ts; the signature: ../path/signature.ts). It
 * accepts a strict subset: DER with minimal lengths and minimal INTEGERs, the certificate structure
 * RFC 5280 defines, well-formed values for every extension the reference decoder
 * (certificate-reference.ts, the former three-decoder parser) interprets, names dn.ts can render
 * exactly as @peculiar/x509 does, and at most 16 KiB — all of which OpenSSL's parser accepts too,
 * so the reference (which builds OpenSSL's object) would not refuse it. For anything else it gives up
 * and the reference decoder decides, so values, refusals and error messages never differ.
 * test/pki/parsing/certificate-equivalence.test.ts holds it to that.
 */

/** Thrown inside the fast decoder for anything outside its subset; never escapes this module. */
const UNSUPPORTED = new Error('outside the fast decoder subset');
function need(ok: unknown): asserts ok {
  if (!ok) throw UNSUPPORTED;
}

/** 16 KiB hold at most 8 192 elements (2 octets each at least): below asn1js's default limit of 10 000 nodes. */
const MAX_FAST_LENGTH = 16 * 1024;

/** The elements of a constructed element's content, each with DER (minimal) length octets. */
function kids(content: Uint8Array): DerNode[] {
  const out: DerNode[] = [];
  for (let pos = 0; pos < content.length; ) {
    const { node, next } = readNode(content, pos);
    need(hasMinimalLength(node));
    out.push(node);
    pos = next;
  }
  return out;
}

/** The single element that makes up `buf` exactly (an extension value), with the given tag. */
function single(buf: Uint8Array, tag: number): DerNode {
  const { node, next } = readNode(buf);
  need(node.tag === tag && next === buf.length && hasMinimalLength(node));
  return node;
}

const oid = (n: DerNode | undefined): string => {
  need(n?.tag === 0x06 && isStrictOid(n.value));
  return decodeOid(n.value);
};

/** A BIT STRING with a valid unused-bits octet. */
const bitString = (n: DerNode | undefined): n is DerNode => n?.tag === 0x03 && n.value.length > 0 && n.value[0]! <= 7;

/** An INTEGER in DER: content present, no redundant leading 0x00 / 0xff octet (OpenSSL refuses that padding). */
const minimalInteger = (n: DerNode | undefined): n is DerNode => {
  const v = n?.value;
  return n?.tag === 0x02 && v!.length > 0 && !(v!.length > 1 && ((v![0] === 0 && v![1]! < 0x80) || (v![0] === 0xff && v![1]! >= 0x80)));
};

/** An ANY value (algorithm parameters, policy qualifiers): shallow, made of types every decoder reads alike. */
function plainAny(n: DerNode, depth = 0): void {
  need(depth < 8);
  const len = n.value.length;
  if (n.tag === 0x30 || n.tag === 0x31 || (n.tag >= 0xa0 && n.tag <= 0xbe)) {
    for (const c of kids(n.value)) plainAny(c, depth + 1);
    return;
  }
  switch (n.tag) {
    case 0x01: need(len === 1); return; // BOOLEAN
    case 0x02: need(minimalInteger(n)); return;
    case 0x03: need(bitString(n)); return;
    case 0x04: return; // OCTET STRING
    case 0x05: need(len === 0); return; // NULL
    case 0x06: need(isStrictOid(n.value)); return;
    case 0x0c: case 0x13: case 0x16: case 0x1a: return; // UTF8 / Printable / IA5 / Visible string
    default: need(n.tag >= 0x80 && n.tag <= 0x9e); // context-specific primitive
  }
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } -> the OID. */
function algorithm(n: DerNode | undefined): string {
  return algorithmWithParams(n).id;
}

function algorithmWithParams(n: DerNode | undefined): { id: string; params?: DerNode } {
  need(n?.tag === 0x30);
  const [alg, params, ...rest] = kids(n.value);
  need(rest.length === 0);
  if (params) plainAny(params);
  return { id: oid(alg), ...(params ? { params } : {}) };
}

/** UTCTime / GeneralizedTime in the RFC 5280 form, converted with asn1js's arithmetic. */
function time(n: DerNode | undefined): Date {
  need(n);
  const s = latin1(n.value);
  const d = (from: number) => Number(s.slice(from, from + 2));
  if (n.tag === 0x17) {
    need(/^\d{12}Z$/.test(s));
    const yy = d(0);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, d(2) - 1, d(4), d(6), d(8), d(10)));
  }
  need(n.tag === 0x18 && /^\d{14}Z$/.test(s));
  return new Date(Date.UTC(Number(s.slice(0, 4)), d(4) - 1, d(6), d(8), d(10), d(12), 0));
}

/**
 * A GeneralName of a form @peculiar/x509 decodes without throwing. otherName only where it is
 * decoded as part of a GeneralNames list (SAN, IAN, CRL DP), which skips names it cannot model;
 * x400Address and ediPartyName never (its schema refuses them).
 */
function generalName(n: DerNode, otherName: boolean): void {
  switch (n.tag) {
    case 0x81: case 0x82: case 0x86: return; // rfc822Name, dNSName, URI
    case 0x87: need(n.value.length === 4 || n.value.length === 16); return; // iPAddress
    case 0x88: need(isStrictOid(n.value)); return; // registeredID
    case 0xa4: need(decodeName(n.value)); return; // directoryName
    case 0xa0: { // otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
      need(otherName);
      const [typeId, wrapped, ...rest] = kids(n.value);
      need(wrapped?.tag === 0xa0 && rest.length === 0);
      oid(typeId);
      const [value, ...more] = kids(wrapped.value);
      need(value && more.length === 0);
      plainAny(value);
      return;
    }
    default: need(false); // x400Address, ediPartyName: the reference decides
  }
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (SAN, IAN). */
function generalNames(value: Uint8Array): void {
  const names = kids(single(value, 0x30).value);
  need(names.length > 0);
  for (const n of names) generalName(n, true);
}

const INTEGER_BYTES_MAX = 3;

function basicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } {
  const [a, b, ...rest] = kids(single(value, 0x30).value);
  need(rest.length === 0);
  let ca = false;
  let int = b;
  if (a?.tag === 0x01) {
    need(a.value.length === 1);
    ca = a.value[0] !== 0;
  } else {
    need(!b);
    int = a;
  }
  if (!int) return { ca };
  const v = int.value;
  // Non-negative, minimal, small: asn1js returns these as numbers (4+ octets become strings).
  need(int.tag === 0x02 && v.length > 0 && v.length <= INTEGER_BYTES_MAX && v[0]! < 0x80 && !(v.length > 1 && v[0] === 0 && v[1]! < 0x80));
  let pathLength = 0;
  for (const byte of v) pathLength = pathLength * 256 + byte;
  return { ca, pathLength };
}

/** @peculiar/asn1-schema BitString#toNumber(), verbatim, as KeyUsagesExtension#usages reports it. */
function keyUsageNumber(value: Uint8Array): number {
  const node = single(value, 0x03);
  const bits = node.value;
  need(bitString(node) && bits.length <= 3); // an empty one yields NaN, as it always has
  const unusedBits = bits[0]!;
  let res = '';
  for (const octet of bits.subarray(1)) res += octet.toString(2).padStart(8, '0');
  res = res.split('').reverse().join('');
  if (unusedBits) res = res.slice(unusedBits).padStart(unusedBits, '0');
  return parseInt(res, 2);
}

function extKeyUsage(value: Uint8Array): string[] {
  const usages = kids(single(value, 0x30).value);
  need(usages.length > 0);
  return usages.map(oid);
}

/** AuthorityKeyIdentifier with only keyIdentifier [0] (issuer + serial forms go to the reference). */
function authorityKeyId(value: Uint8Array): string {
  const parts = kids(single(value, 0x30).value);
  need(parts.length <= 1 && (parts.length === 0 || parts[0]!.tag === 0x80));
  return parts[0] ? hex(parts[0].value) : '';
}

/** CRLDistributionPoints with fullName distribution points only -> the non-empty URIs. */
function crlDistributionPoints(value: Uint8Array): string[] {
  const dps = kids(single(value, 0x30).value);
  need(dps.length > 0);
  const uris: string[] = [];
  for (const dp of dps) {
    need(dp.tag === 0x30);
    const [dpName, ...rest] = kids(dp.value);
    need(dpName?.tag === 0xa0 && rest.length === 0);
    const [fullName, ...more] = kids(dpName.value);
    need(fullName?.tag === 0xa0 && more.length === 0);
    const names = kids(fullName.value);
    need(names.length > 0);
    for (const gn of names) {
      generalName(gn, true);
      if (gn.tag === 0x86 && gn.value.length > 0) uris.push(latin1(gn.value));
    }
  }
  return uris;
}

/** certificatePolicies: PolicyInformation ::= SEQUENCE { OID, SEQUENCE OF PolicyQualifierInfo OPTIONAL }. */
function certificatePolicies(value: Uint8Array): void {
  const policies = kids(single(value, 0x30).value);
  need(policies.length > 0);
  for (const p of policies) {
    need(p.tag === 0x30);
    const [id, qualifiers, ...rest] = kids(p.value);
    need(rest.length === 0);
    oid(id);
    if (!qualifiers) continue;
    need(qualifiers.tag === 0x30);
    const list = kids(qualifiers.value);
    need(list.length > 0);
    for (const q of list) {
      need(q.tag === 0x30);
      const [qid, qualifier, ...extra] = kids(q.value);
      need(qualifier && extra.length === 0);
      oid(qid);
      plainAny(qualifier);
    }
  }
}

/** AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { OID, GeneralName }. */
function authorityInfoAccess(value: Uint8Array): void {
  const list = kids(single(value, 0x30).value);
  need(list.length > 0);
  for (const ad of list) {
    need(ad.tag === 0x30);
    const [method, location, ...rest] = kids(ad.value);
    need(location && rest.length === 0);
    oid(method);
    generalName(location, false);
  }
}

/**
 * String types dn.ts renders but OpenSSL's parser refuses in a certificate's subject or issuer (they
 * lie outside the attribute value types its X509_NAME_ENTRY reads: VideotexString, GraphicString,
 * VisibleString, GeneralString). The reference decoder, which builds OpenSSL's object, refuses them.
 */
const OPENSSL_REFUSED_NAME_TAGS = new Set([0x15, 0x19, 0x1a, 0x1b]);
function opensslReadsName(rdns: readonly Uint8Array[]): boolean {
  for (const rdn of rdns) {
    for (const atv of kids(readNode(rdn).node.value)) {
      const [, value] = kids(atv.value);
      if (value && OPENSSL_REFUSED_NAME_TAGS.has(value.tag)) return false;
    }
  }
  return true;
}

function fastDecode(der: Uint8Array<ArrayBuffer>, sha256: string = sha256Hex(der)): ParsedCert {
  need(der.length <= MAX_FAST_LENGTH);
  const [cert, ...trailing] = kids(der);
  need(cert?.tag === 0x30 && trailing.length === 0);
  const [tbs, sigAlg, sig, ...extra] = kids(cert.value);
  need(tbs?.tag === 0x30 && extra.length === 0 && bitString(sig));
  const { id: signatureAlgorithm, params: signatureParams } = algorithmWithParams(sigAlg);

  const fields = kids(tbs.value);
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    const [versionNode, ...more] = kids(fields[0].value);
    need(versionNode?.tag === 0x02 && versionNode.value.length === 1 && versionNode.value[0]! <= 2 && more.length === 0);
    version = versionNode.value[0]! + 1;
    i++;
  }
  const serial = fields[i++];
  need(minimalInteger(serial));
  algorithm(fields[i++]);
  const issuerNode = fields[i++];
  const validity = fields[i++];
  const subjectNode = fields[i++];
  const spki = fields[i++];
  need(issuerNode?.tag === 0x30 && validity?.tag === 0x30 && subjectNode?.tag === 0x30 && spki?.tag === 0x30);
  const [notBeforeNode, notAfterNode, ...validityRest] = kids(validity.value);
  need(validityRest.length === 0);
  const notBefore = time(notBeforeNode);
  const notAfter = time(notAfterNode);
  const [keyAlg, keyBits, ...spkiRest] = kids(spki.value);
  algorithm(keyAlg);
  need(bitString(keyBits) && spkiRest.length === 0);
  const extensions: DerNode[] = [];
  if (fields[i]?.tag === 0xa3) {
    const [list, ...more] = kids(fields[i++]!.value);
    need(list?.tag === 0x30 && more.length === 0);
    extensions.push(...kids(list.value));
    need(extensions.length > 0);
  }
  need(i === fields.length); // issuerUniqueID / subjectUniqueID or anything else: the reference decides
  const subject = decodeName(subjectNode.raw);
  const issuer = decodeName(issuerNode.raw);
  need(subject && issuer && opensslReadsName(subject.rdns) && opensslReadsName(issuer.rdns));

  const seen = new Set<string>();
  const unhandled: string[] = [];
  const extensionOids: string[] = [];
  const criticalExtensionOids: string[] = [];
  let bc: { ca: boolean; pathLength?: number } | undefined;
  let keyUsage: number | undefined;
  let eku: string[] | undefined;
  let ski: string | undefined;
  let aki: string | undefined;
  let allSans: GeneralNameValue[] = [];
  let nameConstraints: NameConstraints | undefined;
  let crl: string[] = [];
  for (const ext of extensions) {
    need(ext.tag === 0x30);
    const [idNode, second, third, ...rest] = kids(ext.value);
    need(rest.length === 0);
    const type = oid(idNode);
    let critical = false;
    let valueNode = second;
    if (third) {
      need(second?.tag === 0x01 && second.value.length === 1);
      critical = second.value[0] !== 0;
      valueNode = third;
    }
    need(valueNode?.tag === 0x04);
    const value = valueNode.value;
    need(!seen.has(type)); // the reference reports the duplicate
    seen.add(type);
    extensionOids.push(type);
    if (critical) criticalExtensionOids.push(type);
    if (critical && !HANDLED.has(type)) unhandled.push(type);
    switch (type) {
      case OID.basicConstraints: bc = basicConstraints(value); break;
      case OID.keyUsage: keyUsage = keyUsageNumber(value); break;
      case OID.extKeyUsage: eku = extKeyUsage(value); break;
      case OID.subjectKeyId: ski = hex(single(value, 0x04).value); break;
      case OID.authorityKeyId: aki = authorityKeyId(value); break;
      case OID.subjectAltName: generalNames(value); allSans = parseGeneralNames(value); break;
      case OID.nameConstraints: nameConstraints = parseNameConstraints(value); break;
      case OID.crlDistributionPoints: crl = crlDistributionPoints(value); break;
      case OID.certificatePolicies: certificatePolicies(value); break;
      case AUTHORITY_INFO_ACCESS: authorityInfoAccess(value); break;
      case ISSUER_ALT_NAME: generalNames(value); break;
    }
  }

  return {
    der,
    sha256,
    subject: subject.text,
    issuer: issuer.text,
    commonNames: subject.commonNames,
    subjectAltNames: allSans.flatMap((n): TypedName[] =>
      n.type === 'ip' ? [{ type: 'ip', value: bytesToIp(n.bytes) }] : n.type === 'dns' || n.type === 'uri' || n.type === 'email' ? [n] : []),
    allSubjectAltNames: allSans,
    subjectEmails: subject.emails,
    notBefore,
    notAfter,
    isCA: bc?.ca ?? false,
    ...(bc?.pathLength !== undefined ? { pathLen: bc.pathLength } : {}),
    ...(keyUsage !== undefined ? { keyUsage } : {}),
    ...(eku ? { extendedKeyUsage: eku } : {}),
    selfIssued: bytesEqual(subjectNode.raw, issuerNode.raw),
    serial: serialHex(serial.value),
    publicKey: keyInfoOf(spki),
    signatureAlgorithm,
    ...(signatureParams ? { signatureParams: signatureParams.raw } : {}),
    subjectDer: subjectNode.raw,
    issuerDer: issuerNode.raw,
    subjectRdns: subject.rdns,
    ...(ski !== undefined ? { subjectKeyId: ski } : {}),
    ...(aki ? { authorityKeyId: aki } : {}),
    ...(nameConstraints ? { nameConstraints } : {}),
    crlDistributionPoints: crl,
    unhandledCriticalExtensions: unhandled,
    version,
    serialOctets: serialOctets(serial.value),
    extensionOids,
    criticalExtensionOids,
  };
}

/** The fast decoder when the certificate is inside its subset, else the reference decoder. */
function decode(der: Uint8Array<ArrayBuffer>, sha256: string = sha256Hex(der)): ParsedCert {
  try {
    return fastDecode(der, sha256);
  } catch {
    // Outside the subset, malformed, or refused by OpenSSL: the reference decides, with its own message.
    return decodeReference(der, sha256);
  }
}

/** Exposed for the equivalence tests: the fast decoder alone, undefined where it defers to the reference. */
export function decodeFastOnly(der: Uint8Array): ParsedCert | undefined {
  try {
    return fastDecode(new Uint8Array(der));
  } catch {
    return undefined;
  }
}

/**
 * Decodes one DER certificate; anything that is not a well-formed X.509 certificate is a 400.
 * `sha256`: the caller's sha256Hex of exactly these bytes, when it has one (ParsedCertCache).
 */
export function parseCertificate(der: Uint8Array, sha256?: string): ParsedCert {
  try {
    return decode(new Uint8Array(der), sha256);
  } catch (e) {
    throw badRequest('malformed_certificate', `not a well-formed X.509 certificate: ${(e as Error).message}`);
  }
}

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const B64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/** A certificate's DER as one PEM block (64-character lines, final newline), as OpenSSL writes it. */
export function certificatePem(der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString('base64');
  return `${BEGIN}\n${b64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}${END}\n`;
}

/**
 * Every certificate of a PEM bundle, in order. Explanatory text between blocks is allowed
 * (RFC 7468 section 2); any other armor (e.g. a private key), a malformed armor line, non-base64
 * content or a block that is not a certificate throws with the line number.
 */
export function parsePemBundle(pem: string): ParsedCert[] {
  const out: ParsedCert[] = [];
  const lines = pem.split(/\r?\n/);
  let body: string[] | null = null;
  let start = 0;
  lines.forEach((rawLine, i) => {
    const line = rawLine.replace(/[ \t]+$/, '');
    const where = `line ${i + 1}`;
    if (body === null) {
      if (line === BEGIN) { body = []; start = i + 1; return; }
      if (line.includes('-----')) throw new Error(`${where}: unexpected armor ${JSON.stringify(line.slice(0, 64))} (only CERTIFICATE blocks are allowed)`);
      return;
    }
    if (line === END) {
      const b64 = body.join('');
      if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
        throw new Error(`certificate at line ${start}: invalid base64 body`);
      }
      try {
        out.push(decode(new Uint8Array(Buffer.from(b64, 'base64'))));
      } catch (e) {
        throw new Error(`certificate at line ${start}: ${(e as Error).message}`);
      }
      body = null;
      return;
    }
    if (!B64_LINE.test(line)) throw new Error(`${where}: not base64 inside the certificate block starting at line ${start}`);
    body.push(line);
  });
  if (body !== null) throw new Error(`certificate at line ${start}: missing ${END}`);
  return out;
}
