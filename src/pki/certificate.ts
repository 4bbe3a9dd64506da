// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { X509Certificate as NativeCert, createHash } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { badRequest } from '../errors.js';
import { bytesEqual, readChildren, readNode, type DerNode } from './der.js';
import { nameRdns, parseGeneralNames, parseNameConstraints, type GeneralNameValue, type NameConstraints } from './general-names.js';
import { bytesToIp } from './ip.js';

export type { GeneralNameValue, NameConstraints } from './general-names.js';

export interface TypedName { type: 'dns' | 'uri' | 'email' | 'ip'; value: string }
export interface PublicKeyInfo {
  /** node:crypto asymmetricKeyType: 'rsa', 'rsa-pss', 'ec', 'ed25519', …; 'unknown' if unreadable. */
  algorithm: string;
  /** RSA modulus length. */
  bits?: number;
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
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  subjectRdns: Uint8Array[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  nameConstraints?: NameConstraints;
  crlDistributionPoints: string[];
  /** OIDs of critical extensions this module does not process; validation refuses them. */
  unhandledCriticalExtensions: string[];
  /** node:crypto view for native signature verification. */
  native: NativeCert;
}

const OID = {
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30', subjectKeyId: '2.5.29.14', authorityKeyId: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31', certificatePolicies: '2.5.29.32',
} as const;
// certificatePolicies is read as "no policy requirement": certgate does not do policy processing.
const HANDLED = new Set<string>(Object.values(OID));
const EMAIL_ATTR = '1.2.840.113549.1.9.1';

export function decodeOid(content: Uint8Array): string {
  const parts: number[] = [];
  let acc = 0;
  for (const b of content) {
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(acc < 80 ? Math.floor(acc / 40) : 2, acc < 80 ? acc % 40 : acc - 80);
      else parts.push(acc);
      acc = 0;
    }
  }
  return parts.join('.');
}

/** The pieces of the TBSCertificate that need exact bytes: names, serial, signature OID. */
function splitTbs(der: Uint8Array) {
  const { node: cert, next } = readNode(der);
  if (cert.tag !== 0x30 || next !== der.length) throw new Error('not a single DER SEQUENCE');
  const [tbs, sigAlg, sig] = readChildren(cert.value);
  if (tbs?.tag !== 0x30 || sigAlg?.tag !== 0x30 || sig?.tag !== 0x03) throw new Error('not a Certificate');
  const fields = readChildren(tbs.value);
  const f = (fields[0]?.tag === 0xa0 ? fields.slice(1) : fields) as (DerNode | undefined)[];
  const [serial, , issuer, , subject] = f;
  if (serial?.tag !== 0x02 || issuer?.tag !== 0x30 || subject?.tag !== 0x30) throw new Error('malformed TBSCertificate');
  const oid = readChildren(sigAlg.value)[0];
  if (oid?.tag !== 0x06) throw new Error('malformed signatureAlgorithm');
  let s = 0;
  while (s < serial.value.length - 1 && serial.value[s] === 0) s++;
  return {
    serial: Buffer.from(serial.value.subarray(s)).toString('hex'),
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    signatureAlgorithm: decodeOid(oid.value),
  };
}

/** emailAddress attribute values of a Name. */
function emailAttributes(rdns: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const rdn of rdns) {
    for (const atv of readChildren(readNode(rdn).node.value)) {
      const [type, value] = readChildren(atv.value);
      if (type?.tag === 0x06 && value && decodeOid(type.value) === EMAIL_ATTR) out.push(Buffer.from(value.value).toString('latin1'));
    }
  }
  return out;
}

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function publicKeyInfo(native: NativeCert): PublicKeyInfo {
  try {
    const key = native.publicKey;
    const d = key.asymmetricKeyDetails ?? {};
    return {
      algorithm: key.asymmetricKeyType ?? 'unknown',
      ...(d.modulusLength !== undefined ? { bits: d.modulusLength } : {}),
      ...(d.namedCurve !== undefined ? { curve: CURVES[d.namedCurve] ?? d.namedCurve } : {}),
    };
  } catch {
    // OpenSSL could not load the key (unknown algorithm or curve): validation refuses it.
    return { algorithm: 'unknown' };
  }
}

function decode(der: Uint8Array<ArrayBuffer>): ParsedCert {
  const tbs = splitTbs(der);
  const native = new NativeCert(der);
  const cert = new x509.X509Certificate(der);
  const seen = new Set<string>();
  const unhandled: string[] = [];
  for (const ext of cert.extensions) {
    if (seen.has(ext.type)) throw new Error(`duplicate extension ${ext.type}`);
    seen.add(ext.type);
    if (ext.critical && !HANDLED.has(ext.type)) unhandled.push(ext.type);
  }
  const raw = (oid: string) => cert.extensions.find((e) => e.type === oid);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  const crl = cert.getExtension(x509.CRLDistributionPointsExtension);
  const sanExt = raw(OID.subjectAltName);
  const ncExt = raw(OID.nameConstraints);
  const allSans = sanExt ? parseGeneralNames(new Uint8Array(sanExt.value)) : [];
  const subjectRdns = nameRdns(tbs.subjectDer);
  return {
    der,
    sha256: createHash('sha256').update(der).digest('hex'),
    subject: cert.subject,
    issuer: cert.issuer,
    commonNames: cert.subjectName.getField('CN'),
    subjectAltNames: allSans.flatMap((n): TypedName[] =>
      n.type === 'ip' ? [{ type: 'ip', value: bytesToIp(n.bytes) }] : n.type === 'dns' || n.type === 'uri' || n.type === 'email' ? [n] : []),
    allSubjectAltNames: allSans,
    subjectEmails: emailAttributes(subjectRdns),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCA: bc?.ca ?? false,
    ...(bc?.pathLength !== undefined ? { pathLen: bc.pathLength } : {}),
    ...(ku ? { keyUsage: ku.usages } : {}),
    ...(eku ? { extendedKeyUsage: eku.usages.map(String) } : {}),
    selfIssued: bytesEqual(tbs.subjectDer, tbs.issuerDer),
    serial: tbs.serial,
    publicKey: publicKeyInfo(native),
    signatureAlgorithm: tbs.signatureAlgorithm,
    subjectDer: tbs.subjectDer,
    issuerDer: tbs.issuerDer,
    subjectRdns,
    ...(ski ? { subjectKeyId: ski.keyId.toLowerCase() } : {}),
    ...(aki?.keyId ? { authorityKeyId: aki.keyId.toLowerCase() } : {}),
    ...(ncExt ? { nameConstraints: parseNameConstraints(new Uint8Array(ncExt.value)) } : {}),
    crlDistributionPoints: (crl?.distributionPoints ?? []).flatMap((dp) =>
      (dp.distributionPoint?.fullName ?? []).flatMap((gn) => (gn.uniformResourceIdentifier ? [gn.uniformResourceIdentifier] : []))),
    unhandledCriticalExtensions: unhandled,
    native,
  };
}

/** Decodes one DER certificate; anything that is not a well-formed X.509 certificate is a 400. */
export function parseCertificate(der: Uint8Array): ParsedCert {
  try {
    return decode(new Uint8Array(der));
  } catch (e) {
    throw badRequest('malformed_certificate', `not a well-formed X.509 certificate: ${(e as Error).message}`);
  }
}

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const B64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

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
