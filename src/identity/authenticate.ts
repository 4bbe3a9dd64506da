import { CertgateError, badRequest, certRefused, isCertgateError } from '../errors.js';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import { PathWork } from '../pki/path/path-work.js';
import { validateClientChain } from '../pki/path/validate.js';
import type { RevocationChecker } from '../revocation/checker.js';
import type { VerifiedPathCache } from './path-cache.js';
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

/**
 * How far an identity got before it refused: the deepest refusal is the one reported. Revocation
 * is deeper than all of these: it is checked only for identities the certificate satisfies.
 */
const enum Stage {
  Ip = 1,
  Chain = 2,
  Policy = 3,
}

const BUDGET_EXCEEDED = 'path_search_budget_exceeded';

type Attempt = { ok: true; path: ParsedCert[] } | { ok: false; stage: Stage; error: CertgateError };

/** The synchronous part of one identity: IP, chain, name policy. */
function tryIdentity(
  identity: CompiledIdentity,
  cert: PresentedCertificate,
  clientIp: string,
  now: Date,
  work: PathWork,
  paths: VerifiedPathCache | undefined,
): Attempt {
  let stage = Stage.Ip;
  try {
    checkLoginIp(identity, clientIp);
    stage = Stage.Chain;
    const path = verifiedPath(identity, cert, now, work, paths);
    stage = Stage.Policy;
    checkNamePolicy(identity, cert.leaf);
    return { ok: true, path };
  } catch (e) {
    // The request's signature budget is spent: no other identity may be tried, so it ends the login.
    if (!isCertgateError(e) || e.code === BUDGET_EXCEEDED) throw e;
    return { ok: false, stage, error: e };
  }
}

/** The validated path leaf → anchor, from the cache when this chain was validated before. */
function verifiedPath(identity: CompiledIdentity, cert: PresentedCertificate, now: Date, work: PathWork, paths: VerifiedPathCache | undefined): ParsedCert[] {
  const bundle = identity.config.bundle;
  const cached = paths?.get(bundle, cert.leaf, cert.chain, now);
  if (cached) return cached;
  const { path } = validateClientChain({ leaf: cert.leaf, presented: cert.chain, bundle, now, work });
  paths?.set(bundle, cert.leaf, cert.chain, path);
  return path;
}

/**
 * Decides which identity a verified certificate logs in as. With `identityId`, only that identity
 * is tried. Without it, the certificate must satisfy exactly one identity: none → the most
 * specific refusal, several → 409 ambiguous_identity (the caller must name one).
 *
 * Revocation is checked per identity (its own CRL sources and onUnavailable policy) once IP,
 * chain and name policy pass; which identities a certificate satisfies is decided without it, so
 * the choice (and a 409) never flips with the availability of a CRL server. A certificate that any
 * satisfied identity finds revoked is refused outright rather than logged in as another one: a
 * verified CRL of its own issuer says it must no longer be used.
 */
export async function authenticateCertificate(opts: {
  cert: PresentedCertificate;
  clientIp: string;
  identityId?: string;
  identities: readonly CompiledIdentity[];
  now: Date;
  revocation: RevocationChecker;
  /** Signature-work budget of this request across all identities tried (default: a fresh one). */
  work?: PathWork;
  /** Verified paths of earlier logins (only the path search is skipped; see VerifiedPathCache). */
  paths?: VerifiedPathCache;
  /**
   * Awaited once before any path search, when some identity to try has no cached path: the login
   * route's per-address rate gate, so only logins that cost signature work pay its round trip first.
   */
  beforePathSearch?: () => Promise<void>;
}): Promise<Authenticated> {
  const { cert, clientIp, now, revocation } = opts;
  let pool = opts.identities;
  if (opts.identityId !== undefined) {
    // A named identity is the same decision over a pool of one.
    pool = opts.identities.filter((i) => i.config.id === opts.identityId);
    if (pool.length === 0) throw badRequest('unknown_identity', `no identity "${opts.identityId}" is configured`);
  }
  if (pool.length === 0) throw certRefused('no_identities_configured', 'no identity is configured');

  if (opts.beforePathSearch && !pool.every((i) => opts.paths?.has(i.config.bundle, cert.leaf, cert.chain, now))) await opts.beforePathSearch();
  const work = opts.work ?? new PathWork();
  const candidates: Authenticated[] = [];
  let best: { stage: Stage; error: CertgateError } | undefined;
  for (const identity of pool) {
    const r = tryIdentity(identity, cert, clientIp, now, work, opts.paths);
    if (r.ok) candidates.push({ identity, leaf: cert.leaf, path: r.path });
    else if (!best || r.stage > best.stage) best = r;
  }
  if (candidates.length === 0) throw best!.error;
  const refusals = await Promise.all(candidates.map((c) => revocationRefusal(revocation, c, now)));
  const revoked = refusals.find((e) => e?.code === 'certificate_revoked');
  if (revoked) throw revoked;
  if (candidates.length > 1) {
    throw new CertgateError(
      'ambiguous_identity',
      409,
      `the certificate satisfies several identities (${candidates.map((m) => m.identity.config.id).join(', ')}); pass identityId`,
    );
  }
  if (refusals[0]) throw refusals[0];
  return candidates[0]!;
}

async function revocationRefusal(revocation: RevocationChecker, a: Authenticated, now: Date): Promise<CertgateError | undefined> {
  try {
    await revocation.check(a.identity.config, a.path, now);
    return undefined;
  } catch (e) {
    if (!isCertgateError(e)) throw e;
    return e;
  }
}
