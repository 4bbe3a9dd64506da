/** The X.509 extensions certgate reads; any other critical extension makes a certificate unusable. */
export const OID = {
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30', subjectKeyId: '2.5.29.14', authorityKeyId: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31', certificatePolicies: '2.5.29.32',
} as const;
// certificatePolicies is read as "no policy requirement": certgate does not do policy processing.
export const HANDLED = new Set<string>(Object.values(OID));
export const EMAIL_ATTR = '1.2.840.113549.1.9.1';
/** authorityInfoAccess: not processed for validation (OCSP reads its responder URLs). */
export const AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';

/** keyUsage bits as ParsedCert.keyUsage holds them (@peculiar/x509 KeyUsageFlags). */
export const KEY_USAGE = { digitalSignature: 1, keyCertSign: 32, cRLSign: 64 } as const;

/**
 * The signature algorithms certgate accepts, on certificates (validate.ts) and on OCSP answers
 * (ocsp.ts), with what node:crypto needs to check an OCSP signature.
 */
export const SIGNATURE_ALGORITHMS: Readonly<Record<string, { kind: 'rsa' | 'ecdsa'; hash: string } | { kind: 'ed25519' } | { kind: 'pss' }>> = {
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'sha512' },
  '1.2.840.113549.1.1.10': { kind: 'pss' }, // RSASSA-PSS
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'sha512' },
  '1.3.101.112': { kind: 'ed25519' },
};
