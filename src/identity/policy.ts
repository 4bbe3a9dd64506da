import { certRefused, forbidden } from '../errors.js';
import type { Identity } from '../config/load.js';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import { CidrSet } from '../util/cidr.js';
import { compileSanPattern, globToRegExp, type NameMatcher, type TypedName } from './match.js';

/** An identity with its patterns compiled once at startup. */
export interface CompiledIdentity {
  config: Identity;
  loginIps: CidrSet;
  commonNames: RegExp[] | null;
  subjectAltNames: NameMatcher[] | null;
}

export function compileIdentity(config: Identity): CompiledIdentity {
  return {
    config,
    loginIps: new CidrSet(config.loginTrustedIps),
    commonNames: config.allowedCommonNames ? config.allowedCommonNames.map((g) => globToRegExp(g)) : null,
    subjectAltNames: config.allowedSubjectAltNames ? config.allowedSubjectAltNames.map(compileSanPattern) : null,
  };
}

/** loginTrustedIps: checked before any certificate work. */
export function checkLoginIp(identity: CompiledIdentity, clientIp: string): void {
  if (!identity.loginIps.contains(clientIp)) {
    throw forbidden('login_ip_not_allowed', `logins for identity "${identity.config.id}" are not allowed from this address`);
  }
}

/**
 * The identity's name policy on the validated leaf. When both lists are set both must pass.
 * A subject with several CN attributes is refused outright: which one a terminator or a
 * downstream would read is ambiguous, and that ambiguity is an impersonation vector.
 */
export function checkNamePolicy(identity: CompiledIdentity, leaf: ParsedCert): void {
  if (identity.commonNames) {
    if (leaf.commonNames.length > 1) throw certRefused('multiple_common_names', 'the certificate subject has several common names');
    const cn = leaf.commonNames[0];
    if (cn === undefined || !identity.commonNames.some((re) => re.test(cn))) {
      throw certRefused('common_name_not_allowed', `the certificate common name is not allowed for identity "${identity.config.id}"`);
    }
  }
  if (identity.subjectAltNames) {
    const patterns = identity.subjectAltNames;
    // Vault semantics: one SAN of the certificate matching one pattern identifies the workload.
    const svid = leaf.subjectAltNames.filter((n) => n.type === 'uri').length === 1;
    if (!leaf.subjectAltNames.some((san: TypedName) => patterns.some((m) => m(san) && (svid || !m.svidOnly)))) {
      throw certRefused('subject_alt_name_not_allowed', `no subject alternative name of the certificate is allowed for identity "${identity.config.id}"`);
    }
  }
}
