import { Name } from '@peculiar/x509';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import { parseSpiffeId } from './spiffe.js';

import type { CERTIFICATE_CLAIM_SOURCES } from '../config/schema.js';

export type CertificateClaimSource = (typeof CERTIFICATE_CLAIM_SOURCES)[number];

export type CertificateClaims = Record<string, string | string[]>;

const SAN_TYPE = { 'san.dns': 'dns', 'san.uri': 'uri', 'san.email': 'email', 'san.ip': 'ip' } as const;
const DN_FIELD = { 'subject.O': 'O', 'subject.OU': 'OU' } as const;

/**
 * Reads the configured fields of a verified leaf. SAN sources are always arrays (possibly empty);
 * scalar sources are omitted when the certificate lacks them, so a downstream never mistakes an
 * empty string for a value. `spiffeId` is the certificate's one URI SAN when it is a valid SPIFFE ID
 * (an X509-SVID has exactly one URI SAN); a certificate with several, or whose one URI is not a
 * valid SPIFFE ID (a dot segment, a port, …), has none, as the SPIFFE spec refuses it.
 */
export function certificateClaimsOf(map: Readonly<Record<string, CertificateClaimSource>>, leaf: ParsedCert): CertificateClaims {
  const out: CertificateClaims = {};
  let dn: Name | undefined;
  for (const [claim, source] of Object.entries(map)) {
    switch (source) {
      case 'subject.CN':
        if (leaf.commonNames[0] !== undefined) out[claim] = leaf.commonNames[0];
        break;
      case 'subject.O':
      case 'subject.OU': {
        dn ??= new Name(new Uint8Array(leaf.subjectDer));
        const values = dn.getField(DN_FIELD[source]);
        if (values.length > 0) out[claim] = values.length === 1 ? values[0]! : values;
        break;
      }
      case 'serial':
        out[claim] = leaf.serial;
        break;
      case 'sha256':
        out[claim] = leaf.sha256;
        break;
      case 'spiffeId': {
        const uris = leaf.subjectAltNames.filter((n) => n.type === 'uri');
        if (uris.length === 1 && typeof parseSpiffeId(uris[0]!.value) !== 'string') out[claim] = uris[0]!.value;
        break;
      }
      default:
        out[claim] = leaf.subjectAltNames.filter((n) => n.type === SAN_TYPE[source]).map((n) => n.value);
    }
  }
  return out;
}

/**
 * `X-Certgate-Claim-<Name>` for forward-auth: `_` becomes `-` (nginx drops header names with
 * underscores by default), arrays are comma-joined, values made header-safe by the caller.
 */
export const claimHeaderName = (claim: string): string => `X-Certgate-Claim-${claim.replace(/_/g, '-')}`;
