import { CertgateError, certRefused } from '../../errors.js';
import type { ParsedCert } from '../parsing/certificate.js';
import { bytesEqual } from '../parsing/der.js';
import { KEY_USAGE, SIGNATURE_ALGORITHMS } from '../parsing/extension-oids.js';
import { conformanceProblem, type Role } from './conformance.js';
import { nameConstraintViolation, TOO_COMPLEX } from './name-constraints.js';
import { PathWork } from './path-work.js';
import { pssProblem } from '../parsing/pss.js';
import { verifiesWith } from './signature.js';

export { verifiesWith };

/**
 * Client-certificate path validation, pure and synchronous. Every certificate of the identity's
 * bundle is a trust anchor (roots and intermediates alike); bundle and presented certificates
 * are the candidate intermediates. Paths are built leaf -> anchor by depth-first search with
 * backtracking, verifying every signature on the way.
 *
 * Refusal codes (all 401 via certRefused):
 *   leaf:   ca_certificate_as_client, certificate_expired, certificate_not_yet_valid,
 *           key_usage_not_allowed (keyUsage present without digitalSignature: TLS client
 *           authentication signs with the key), extended_key_usage_not_allowed
 *   any:    nonconforming_certificate (RFC 5280 issuance rules, conformance.ts),
 *           weak_or_unsupported_key, weak_signature_algorithm, unhandled_critical_extension
 *   CAs (intermediates and the anchor): issuer_expired, issuer_not_yet_valid, issuer_not_ca,
 *           path_length_exceeded, name_constraints_violated, name_constraints_too_complex,
 *           extended_key_usage_not_allowed
 *           (an EKU extension with neither clientAuth nor anyExtendedKeyUsage: EKUs nest, as in
 *           Go's crypto/x509 and browsers, so such a CA cannot issue client certificates)
 *   path:   signature_invalid (a DN-matching issuer exists, no signature verifies),
 *           path_search_budget_exceeded (the request's signature-work budget is spent, path-work.ts),
 *           chain_incomplete (no issuer with a matching DN, or no path within MAX_PATH_LENGTH)
 */
export interface ValidatedPath {
  /** leaf … anchor; the anchor is a bundle certificate (the leaf itself when it is pinned). */
  path: ParsedCert[];
}
export interface ValidateInput {
  leaf: ParsedCert;
  presented: ParsedCert[];
  bundle: ParsedCert[];
  now: Date;
  /** The request's signature-work budget, shared by every identity it tries (default: a fresh one). */
  work?: PathWork;
}

/** Certificates in a path, leaf and anchor included. */
export const MAX_PATH_LENGTH = 10;
/**
 * Work caps: presented certificates come from the client, who could send hundreds of same-DN
 * certificates to make the search expensive. An honest path needs a handful of each.
 */
const MAX_SEARCH_STEPS = 64;
const MAX_SIGNATURE_CHECKS = 64;

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const ANY_EKU = '2.5.29.37.0';

/** No EKU extension means no restriction (RFC 5280 4.2.1.12). */
const allowsClientAuth = (c: ParsedCert) =>
  c.extendedKeyUsage === undefined || c.extendedKeyUsage.includes(CLIENT_AUTH) || c.extendedKeyUsage.includes(ANY_EKU);

/** sha256/384/512WithRSA, RSASSA-PSS, ecdsa-with-SHA256/384/512, Ed25519: the OCSP allow-list too. */
const ACCEPTED_SIGNATURES = new Set(Object.keys(SIGNATURE_ALGORITHMS));

/** Ranks refusals from failed branches: a concrete defect on a verified path beats "no path". */
const RANK: Record<string, number> = { chain_incomplete: 0, signature_invalid: 1 };
const rank = (e: CertgateError) => RANK[e.code] ?? 2;

/**
 * RSA keys: modulus 2048..8192 bits and a multiple of 8 (what the Web PKI issues); public exponent
 * odd and 3 <= e <= 2^31 - 1. Verification time grows with modulus bits² × exponent bits, so a
 * huge exponent turns one check into milliseconds: Go's crypto/rsa refuses e > 2^31 - 1 (and e < 2),
 * BoringSSL refuses an even e or e of more than 33 bits; certgate takes the stricter of each bound.
 */
const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 8192;
export const RSA_MAX_EXPONENT = 2n ** 31n - 1n;
const rsaKeyOk = (k: ParsedCert['publicKey']): boolean =>
  k.bits !== undefined && k.bits >= RSA_MIN_BITS && k.bits <= RSA_MAX_BITS && k.bits % 8 === 0 &&
  k.exponent !== undefined && k.exponent >= 3n && k.exponent <= RSA_MAX_EXPONENT && (k.exponent & 1n) === 1n;

export function keyProblem(c: ParsedCert): CertgateError | undefined {
  const k = c.publicKey;
  const ok =
    ((k.algorithm === 'rsa' || k.algorithm === 'rsa-pss') && rsaKeyOk(k)) ||
    (k.algorithm === 'ec' && (k.curve === 'P-256' || k.curve === 'P-384')) ||
    k.algorithm === 'ed25519';
  if (ok) return undefined;
  const desc = `${k.algorithm}${k.bits ? `-${k.bits}` : ''}${k.curve ? ` ${k.curve}` : ''}`;
  const e = k.exponent !== undefined && (k.exponent < 3n || k.exponent > 65537n) ? ` (exponent of ${k.exponentBits} bits)` : '';
  return certRefused('weak_or_unsupported_key', `"${c.subject}" has a ${desc} key${e}; RSA 2048..8192 bits with an odd exponent below 2^31, ECDSA P-256/P-384 or Ed25519 is required`);
}

/** Defects of a certificate that depend on its role only, not on the rest of the path. */
function intrinsicProblem(c: ParsedCert, checkSignatureAlgorithm: boolean, role: Role): CertgateError | undefined {
  const nonconforming = conformanceProblem(c, role);
  if (nonconforming) return certRefused('nonconforming_certificate', nonconforming);
  if (c.unhandledCriticalExtensions.length) {
    return certRefused('unhandled_critical_extension', `"${c.subject}" has critical extensions certgate does not process: ${c.unhandledCriticalExtensions.join(', ')}`);
  }
  if (checkSignatureAlgorithm && !ACCEPTED_SIGNATURES.has(c.signatureAlgorithm)) {
    return certRefused('weak_signature_algorithm', `"${c.subject}" is signed with ${c.signatureAlgorithm}, which is not accepted`);
  }
  // RSASSA-PSS names its hash in its parameters: SHA-1 there is refused like sha1WithRSA.
  const pss = checkSignatureAlgorithm && c.signatureAlgorithm === RSASSA_PSS ? pssProblem(c.signatureParams) : undefined;
  if (pss) return certRefused('weak_signature_algorithm', `"${c.subject}" is signed with ${pss}`);
  return keyProblem(c);
}

function leafProblem(leaf: ParsedCert, now: Date): CertgateError | undefined {
  if (leaf.isCA) return certRefused('ca_certificate_as_client', 'a CA certificate cannot be used as a client certificate');
  const intrinsic = intrinsicProblem(leaf, true, 'leaf');
  if (intrinsic) return intrinsic;
  if (leaf.notAfter < now) return certRefused('certificate_expired', `the client certificate expired at ${leaf.notAfter.toISOString()}`);
  if (leaf.notBefore > now) return certRefused('certificate_not_yet_valid', `the client certificate is not valid before ${leaf.notBefore.toISOString()}`);
  // No keyUsage extension means no restriction; with one, the TLS handshake's signature
  // (CertificateVerify) needs digitalSignature.
  if (leaf.keyUsage !== undefined && !(leaf.keyUsage & KEY_USAGE.digitalSignature)) {
    return certRefused('key_usage_not_allowed', 'the client certificate key usage does not allow digitalSignature');
  }
  if (!allowsClientAuth(leaf)) {
    return certRefused('extended_key_usage_not_allowed', 'the client certificate extended key usage does not allow clientAuth');
  }
  return undefined;
}

/** Checks `ca` as the issuer appended to `below` (leaf first), including constraints it imposes. */
function issuerProblem(ca: ParsedCert, below: ParsedCert[], isAnchor: boolean, now: Date): CertgateError | undefined {
  const who = `${isAnchor ? 'trust anchor' : 'issuer'} "${ca.subject}"`;
  if (!ca.isCA || (ca.keyUsage !== undefined && !(ca.keyUsage & KEY_USAGE.keyCertSign))) {
    return certRefused('issuer_not_ca', `${who} is not a CA (basicConstraints cA and keyUsage keyCertSign are required)`);
  }
  // An anchor is trusted by configuration, so how it was itself signed does not matter.
  const intrinsic = intrinsicProblem(ca, !isAnchor, isAnchor ? 'anchor' : 'intermediate');
  if (intrinsic) return intrinsic;
  if (ca.notAfter < now) return certRefused('issuer_expired', `${who} expired at ${ca.notAfter.toISOString()}`);
  if (ca.notBefore > now) return certRefused('issuer_not_yet_valid', `${who} is not valid before ${ca.notBefore.toISOString()}`);
  if (!allowsClientAuth(ca)) {
    return certRefused('extended_key_usage_not_allowed', `${who} has an extended key usage without clientAuth, so it cannot issue client certificates`);
  }
  // pathLenConstraint counts the non-self-issued intermediates between this CA and the leaf.
  const intermediates = below.slice(1).filter((c) => !c.selfIssued).length;
  if (ca.pathLen !== undefined && intermediates > ca.pathLen) {
    return certRefused('path_length_exceeded', `${who} allows ${ca.pathLen} intermediate(s) below it, the path has ${intermediates}`);
  }
  // Self-issued intermediates are exempt from name constraints; the leaf never is (RFC 5280 6.1.3).
  for (const [i, c] of below.entries()) {
    if (i > 0 && c.selfIssued) continue;
    const v = nameConstraintViolation(ca, c);
    if (v === TOO_COMPLEX) return certRefused('name_constraints_too_complex', `${who}: ${v}`);
    if (v) return certRefused('name_constraints_violated', v);
  }
  return undefined;
}

export function validateClientChain(input: ValidateInput): ValidatedPath {
  const { leaf } = input;
  // Validity is encoded to the second: compare at that granularity (floor), so a certificate is
  // valid through the whole second of its notAfter and not before the second of its notBefore.
  const now = new Date(Math.floor(input.now.getTime() / 1000) * 1000);
  const problem = leafProblem(leaf, now);
  if (problem) throw problem;

  const anchors = new Set(input.bundle.map((c) => c.sha256));
  // An operator may pin the client certificate itself.
  if (anchors.has(leaf.sha256)) return { path: [leaf] };

  const pool = new Map<string, ParsedCert>();
  for (const c of [...input.bundle, ...input.presented]) if (!pool.has(c.sha256)) pool.set(c.sha256, c);
  const work = input.work ?? new PathWork();
  let verifications = 0;
  let exhausted = false;
  // The per-identity count cap stays (a flood of cheap candidates); the cost budget is per request.
  const signedBy = (child: ParsedCert, issuer: ParsedCert): boolean => {
    if (!work.known(child, issuer) && ++verifications > MAX_SIGNATURE_CHECKS) {
      exhausted = true;
      return false;
    }
    return work.verify(child, issuer, () => verifiesWith(child, issuer));
  };

  let best: CertgateError | undefined;
  const note = (e: CertgateError) => {
    if (!best || rank(e) > rank(best)) best = e;
  };
  let steps = 0;

  const search = (path: ParsedCert[]): ParsedCert[] | null => {
    const child = path[path.length - 1]!;
    if (++steps > MAX_SEARCH_STEPS) exhausted = true;
    if (exhausted) return null;
    if (path.length >= MAX_PATH_LENGTH) {
      note(certRefused('chain_incomplete', `no path to a trust anchor within ${MAX_PATH_LENGTH} certificates`));
      return null;
    }
    const inPath = new Set(path.map((c) => c.sha256));
    // DN bytes decide candidacy; AKI/SKI and anchor-ness only decide the order tried.
    const score = (c: ParsedCert) =>
      (child.authorityKeyId && c.subjectKeyId === child.authorityKeyId ? 2 : 0) + (anchors.has(c.sha256) ? 1 : 0);
    const candidates = [...pool.values()]
      .filter((c) => !inPath.has(c.sha256) && bytesEqual(c.subjectDer, child.issuerDer))
      .sort((a, b) => score(b) - score(a));
    if (candidates.length === 0) {
      note(certRefused('chain_incomplete', `no trusted issuer found for "${child.subject}" (issuer "${child.issuer}")`));
      return null;
    }
    for (const issuer of candidates) {
      // An unacceptable key is refused before any verification: its cost is what an attacker picks.
      const badKey = keyProblem(issuer);
      if (badKey) {
        note(badKey);
        continue;
      }
      if (!signedBy(child, issuer)) {
        if (exhausted) return null;
        note(certRefused('signature_invalid', `the signature of "${child.subject}" does not verify with the key of "${issuer.subject}"`));
        continue;
      }
      const isAnchor = anchors.has(issuer.sha256);
      const defect = issuerProblem(issuer, path, isAnchor, now);
      if (defect) {
        note(defect);
        continue;
      }
      const next = [...path, issuer];
      const found = isAnchor ? next : search(next);
      if (found) return found;
    }
    return null;
  };

  const path = search([leaf]);
  if (path) return { path };
  if (exhausted) throw certRefused('chain_incomplete', 'path search gave up: too many candidate certificates');
  throw best ?? certRefused('chain_incomplete', 'no path to a trust anchor');
}
