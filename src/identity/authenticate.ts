import { CertgateError, badRequest, certRefused, isCertgateError } from '../errors.js';
import type { ParsedCert } from '../pki/certificate.js';
import { validateClientChain } from '../pki/validate.js';
import { checkLoginIp, checkNamePolicy, type CompiledIdentity } from './policy.js';

export interface PresentedCertificate {
  leaf: ParsedCert;
  /** Every other certificate the client or terminator sent, in order, possibly strangers. */
  chain: ParsedCert[];
}

export interface Authenticated {
  identity: CompiledIdentity;
  leaf: ParsedCert;
  path: ParsedCert[];
}

/** How far an identity got before it refused: the deepest refusal is the one reported. */
const enum Stage {
  Ip = 1,
  Chain = 2,
  Policy = 3,
}

/** Tries one identity; returns the validated path or the refusal with the stage it came from. */
function tryIdentity(
  identity: CompiledIdentity,
  cert: PresentedCertificate,
  clientIp: string,
  now: Date,
): { ok: true; path: ParsedCert[] } | { ok: false; stage: Stage; error: CertgateError } {
  let stage = Stage.Ip;
  try {
    checkLoginIp(identity, clientIp);
    stage = Stage.Chain;
    const { path } = validateClientChain({ leaf: cert.leaf, presented: cert.chain, bundle: identity.config.bundle, now });
    stage = Stage.Policy;
    checkNamePolicy(identity, cert.leaf);
    return { ok: true, path };
  } catch (e) {
    if (!isCertgateError(e)) throw e;
    return { ok: false, stage, error: e };
  }
}

/**
 * Decides which identity a verified certificate logs in as. With `identityId`, only that identity
 * is tried. Without it, the certificate must satisfy exactly one identity: none → the most
 * specific refusal, several → 409 ambiguous_identity (the caller must name one).
 */
export function authenticateCertificate(opts: {
  cert: PresentedCertificate;
  clientIp: string;
  identityId?: string;
  identities: CompiledIdentity[];
  now: Date;
}): Authenticated {
  const { cert, clientIp, now } = opts;
  if (opts.identityId !== undefined) {
    const identity = opts.identities.find((i) => i.config.id === opts.identityId);
    if (!identity) throw badRequest('unknown_identity', `no identity "${opts.identityId}" is configured`);
    const r = tryIdentity(identity, cert, clientIp, now);
    if (!r.ok) throw r.error;
    return { identity, leaf: cert.leaf, path: r.path };
  }
  if (opts.identities.length === 0) throw certRefused('no_identities_configured', 'no identity is configured');

  const matches: Authenticated[] = [];
  let best: { stage: Stage; error: CertgateError } | undefined;
  for (const identity of opts.identities) {
    const r = tryIdentity(identity, cert, clientIp, now);
    if (r.ok) matches.push({ identity, leaf: cert.leaf, path: r.path });
    else if (!best || r.stage > best.stage) best = r;
  }
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new CertgateError(
      'ambiguous_identity',
      409,
      `the certificate satisfies several identities (${matches.map((m) => m.identity.config.id).join(', ')}); pass identityId`,
    );
  }
  throw best!.error;
}
