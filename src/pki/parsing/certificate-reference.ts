// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { X509Certificate as NativeCert } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { bytesEqual, decodeOid, latin1, readChildren, readNode, serialHex, serialOctets, sha256Hex, type DerNode } from './der.js';
import { decodeName, hasAstralUniversalString, nameStringProblem } from './dn.js';
import { nameRdns, parseGeneralNames, parseNameConstraints } from './general-names.js';
import { bytesToIp } from './ip.js';
import type { ParsedCert, TypedName } from './certificate.js';
import { keyInfoFromOpenSsl } from './public-key.js';
import { OID, HANDLED, EMAIL_ATTR } from './extension-oids.js';

/**
 * The original three-decoder certificate parser (own DER reader + node:crypto + @peculiar/x509),
 * kept unchanged as the reference the fast decoder in certificate.ts is tested against, and as its
 * fallback for anything outside the strict DER subset the fast decoder accepts (malformed input,
 * BER, unusual string types or name forms). Every value and every error message of this module is
 * what parseCertificate has always returned, so routing a certificate here never changes a result.
 */


/** The pieces of the TBSCertificate that need exact bytes: names, serial, signature OID. */
function splitTbs(der: Uint8Array) {
  const { node: cert, next } = readNode(der);
  if (cert.tag !== 0x30 || next !== der.length) throw new Error('not a single DER SEQUENCE');
  const [tbs, sigAlg, sig] = readChildren(cert.value);
  if (tbs?.tag !== 0x30 || sigAlg?.tag !== 0x30 || sig?.tag !== 0x03) throw new Error('not a Certificate');
  const fields = readChildren(tbs.value);
  const f = (fields[0]?.tag === 0xa0 ? fields.slice(1) : fields) as (DerNode | undefined)[];
  const [serial, , issuer, , subject, spki] = f;
  if (serial?.tag !== 0x02 || issuer?.tag !== 0x30 || subject?.tag !== 0x30) throw new Error('malformed TBSCertificate');
  const versionNode = fields[0]?.tag === 0xa0 ? readChildren(fields[0].value)[0] : undefined;
  const [oid, params] = readChildren(sigAlg.value);
  if (oid?.tag !== 0x06) throw new Error('malformed signatureAlgorithm');
  return {
    spki: spki?.tag === 0x30 ? spki : undefined,
    signatureParams: params?.raw,
    serial: serialHex(serial.value),
    serialOctets: serialOctets(serial.value),
    version: versionNode?.tag === 0x02 && versionNode.value.length === 1 ? versionNode.value[0]! + 1 : 1,
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    signatureAlgorithm: decodeOid(oid.value),
  };
}

/** Whether an AuthorityKeyIdentifier value holds authorityCertIssuer [1] or authorityCertSerialNumber [2]. */
function akiHasIssuerSerial(value: Uint8Array): boolean {
  try {
    return readChildren(readNode(value).node.value).some((f) => f.tag === 0xa1 || f.tag === 0x82);
  } catch {
    return false;
  }
}

/** emailAddress attribute values of a Name. */
export function emailAttributes(rdns: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const rdn of rdns) {
    for (const atv of readChildren(readNode(rdn).node.value)) {
      const [type, value] = readChildren(atv.value);
      if (type?.tag === 0x06 && value && decodeOid(type.value) === EMAIL_ATTR) out.push(latin1(value.value));
    }
  }
  return out;
}

/** Decodes one DER certificate the original way; throws a plain Error when it is not well-formed. */
export function decodeReference(der: Uint8Array<ArrayBuffer>, sha256: string = sha256Hex(der)): ParsedCert {
  const tbs = splitTbs(der);
  for (const nameDer of [tbs.subjectDer, tbs.issuerDer]) {
    const problem = nameStringProblem(nameDer);
    if (problem) throw new Error(problem);
  }
  const native = new NativeCert(der);
  const cert = new x509.X509Certificate(der);
  // asn1js cuts UniversalString characters to 16 bits; dn.ts reads them exactly.
  const exactName = (nameDer: Uint8Array, fallback: string) => {
    if (!hasAstralUniversalString(nameDer)) return undefined;
    const decoded = decodeName(nameDer);
    if (!decoded) throw new Error(`cannot decode the name ${fallback} exactly`);
    return decoded;
  };
  const exactSubject = exactName(tbs.subjectDer, 'subject');
  const exactIssuer = exactName(tbs.issuerDer, 'issuer');
  const seen = new Set<string>();
  const unhandled: string[] = [];
  const criticalExtensionOids: string[] = [];
  for (const ext of cert.extensions) {
    if (seen.has(ext.type)) throw new Error(`duplicate extension ${ext.type}`);
    seen.add(ext.type);
    if (ext.critical) criticalExtensionOids.push(ext.type);
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
  const akiExt = raw(OID.authorityKeyId);
  const allSans = sanExt ? parseGeneralNames(new Uint8Array(sanExt.value)) : [];
  const subjectRdns = nameRdns(tbs.subjectDer);
  return {
    der,
    sha256,
    subject: exactSubject?.text ?? cert.subject,
    issuer: exactIssuer?.text ?? cert.issuer,
    commonNames: exactSubject?.commonNames ?? cert.subjectName.getField('CN'),
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
    publicKey: tbs.spki ? keyInfoFromOpenSsl(() => native.publicKey, tbs.spki) : { algorithm: 'unknown' },
    signatureAlgorithm: tbs.signatureAlgorithm,
    ...(tbs.signatureParams ? { signatureParams: tbs.signatureParams } : {}),
    subjectDer: tbs.subjectDer,
    issuerDer: tbs.issuerDer,
    subjectRdns,
    ...(ski ? { subjectKeyId: ski.keyId.toLowerCase() } : {}),
    ...(aki?.keyId ? { authorityKeyId: aki.keyId.toLowerCase() } : {}),
    ...(ncExt ? { nameConstraints: parseNameConstraints(new Uint8Array(ncExt.value)) } : {}),
    crlDistributionPoints: (crl?.distributionPoints ?? []).flatMap((dp) =>
      (dp.distributionPoint?.fullName ?? []).flatMap((gn) => (gn.uniformResourceIdentifier ? [gn.uniformResourceIdentifier] : []))),
    unhandledCriticalExtensions: unhandled,
    version: tbs.version,
    serialOctets: tbs.serialOctets,
    extensionOids: [...seen],
    criticalExtensionOids,
    ...(akiExt && akiHasIssuerSerial(new Uint8Array(akiExt.value)) ? { authorityKeyIdHasIssuerSerial: true as const } : {}),
  };
}
