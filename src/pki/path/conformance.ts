import type { ParsedCert } from '../parsing/certificate.js';
import { KEY_USAGE, OID } from '../parsing/extension-oids.js';

/**
 * RFC 5280 issuance rules certgate enforces on every certificate of a path, by role. A CA that
 * breaks them mis-issued; what such a certificate means is guesswork, so it is refused (401
 * `nonconforming_certificate`) like pyca/cryptography and webpki refuse it. Each rule cites the
 * section it comes from; docs/x509-validation.md lists them with the x509-limbo cases they settle.
 */
export type Role = 'leaf' | 'intermediate' | 'anchor';

/** Serial numbers are positive and at most 20 octets (4.1.2.2). */
const MAX_SERIAL_OCTETS = 20;

// Preferred name syntax (RFC 1034 3.5 as amended by RFC 1123 2.1): letters, digits, hyphens; no
// underscore; labels of 1..63; at most 253 in all; the last label not all-numeric (an IP address
// in a dNSName, 4.2.1.6). A leading "*." wildcard label is allowed: matching it is not certgate's job.
const LDH_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
export function isDnsName(name: string): boolean {
  const host = name.startsWith('*.') ? name.slice(2) : name;
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split('.');
  return labels.every((l) => LDH_LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
}

export function conformanceProblem(c: ParsedCert, role: Role): string | undefined {
  const who = `"${c.subject}"`;
  const critical = (oid: string) => c.criticalExtensionOids.includes(oid);
  const has = (oid: string) => c.extensionOids.includes(oid);
  if (role !== 'anchor') {
    // An anchor is trusted by configuration; old v1 roots and their serials are its operator's call.
    if (c.version !== 3) return `${who} is an X.509 v${c.version} certificate; v3 is required (4.1.2.1)`;
    if (c.serialOctets === 0) return `${who} has serial number zero (4.1.2.2)`;
    if (c.serialOctets > MAX_SERIAL_OCTETS) return `${who} has a serial number of ${c.serialOctets} octets, more than 20 (4.1.2.2)`;
  }
  // 4.2.1.1: keyIdentifier MUST be present except in self-signed certificates; the extension non-critical.
  if (has(OID.authorityKeyId)) {
    if (critical(OID.authorityKeyId)) return `${who} has a critical authority key identifier (4.2.1.1)`;
    if (c.authorityKeyId === undefined) return `${who} has an authority key identifier without keyIdentifier (4.2.1.1)`;
    if (c.authorityKeyIdHasIssuerSerial) return `${who} has an authority key identifier with authorityCertIssuer/SerialNumber`;
    if (role === 'anchor' && c.selfIssued && c.subjectKeyId !== undefined && c.authorityKeyId !== c.subjectKeyId) {
      return `${who} is self-signed but its authority key identifier differs from its subject key identifier`;
    }
  } else if (!c.selfIssued && role !== 'anchor') {
    // Not demanded of anchors: an operator may trust a cross-signed or older CA that lacks it.
    return `${who} has no authority key identifier (4.2.1.1)`;
  }
  // 4.2.1.2: every CA certificate has a subject key identifier; the extension is non-critical.
  if (critical(OID.subjectKeyId)) return `${who} has a critical subject key identifier (4.2.1.2)`;
  if (c.isCA && c.subjectKeyId === undefined) return `${who} is a CA without a subject key identifier (4.2.1.2)`;
  if (c.isCA) {
    // 4.2.1.9: basicConstraints MUST be critical in CA certificates; 4.1.2.6: a CA's subject is non-empty.
    if (!critical(OID.basicConstraints)) return `${who} is a CA whose basic constraints are not critical (4.2.1.9)`;
    if (c.subjectRdns.length === 0) return 'a CA certificate has an empty subject (4.1.2.6)';
  } else {
    // 4.2.1.3: keyCertSign only with cA; 4.2.1.10: name constraints only in CA certificates.
    if (c.keyUsage !== undefined && c.keyUsage & KEY_USAGE.keyCertSign) return `${who} asserts keyCertSign without being a CA (4.2.1.3)`;
    if (has(OID.nameConstraints)) return `${who} carries name constraints but is not a CA (4.2.1.10)`;
  }
  // 4.2.1.6: with an empty subject the identity is in the SAN, which must then be present and critical.
  if (c.subjectRdns.length === 0 && !critical(OID.subjectAltName)) {
    return `${who} has an empty subject and no critical subject alternative name (4.2.1.6)`;
  }
  for (const n of c.allSubjectAltNames) {
    if (n.type === 'dns' && !isDnsName(n.value)) return `${who} has a malformed DNS name ${JSON.stringify(n.value)} in its subject alternative names (4.2.1.6)`;
  }
  return undefined;
}
