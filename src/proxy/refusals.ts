import { CertgateError, badRequest, certRefused } from '../errors.js';

/**
 * The refusals of forwarded-certificate handling, in one place so that codes and statuses stay
 * stable. Messages name the header and the reason but never echo the value: it is attacker
 * controlled, may be 32 KiB long, and ends up in logs.
 */
export const malformed = (what: string, reason: string) =>
  badRequest('malformed_certificate_header', `${what}: ${reason}`);

export const tooLarge = (what: string, bytes: number, max: number) =>
  new CertgateError('certificate_header_too_large', 431, `${what} is ${bytes} bytes, more than the ${max} allowed`);

export const chainTooLong = (what: string, max: number) =>
  badRequest('chain_too_long', `${what} carries more than ${max} chain certificates`);

export const xfccHashMismatch = () =>
  certRefused('xfcc_hash_mismatch', 'x-forwarded-client-cert: Hash does not match the SHA-256 of Cert');
