/** The X.509 extensions certgate reads; any other critical extension makes a certificate unusable. */
export const OID = {
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30', subjectKeyId: '2.5.29.14', authorityKeyId: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31', certificatePolicies: '2.5.29.32',
} as const;
// certificatePolicies is read as "no policy requirement": certgate does not do policy processing.
export const HANDLED = new Set<string>(Object.values(OID));
export const EMAIL_ATTR = '1.2.840.113549.1.9.1';
