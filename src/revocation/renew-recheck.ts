import type { CompiledIdentity } from '../identity/policy.js';
import type { ParsedCertCache } from '../pki/parsing/parse-cache.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import type { RevocationChecker } from './checker.js';

/**
 * Renew re-checks the revocation of the token's certificate with the identity's current
 * revocation config, exactly as a login would (same checker, caches and onUnavailable policy).
 * A renew carries no certificate, so the validated path is taken from the store's certificate
 * index, where the login kept it (src/token/service.ts issue). Revoked markers need no re-check
 * here: the revoke that wrote them revoked the token too.
 * A record without an index entry (issued by an older version) has nothing to re-check with and
 * is renewed as before.
 */
export async function recheckRevocation(
  deps: { store: TokenStore; certs: ParsedCertCache; revocation: RevocationChecker },
  record: TokenRecord,
  identity: CompiledIdentity,
  now: number,
): Promise<void> {
  const rev = identity.config.revocation;
  if (!rev?.crl && !rev?.ocsp?.enabled) return;
  const cert = await deps.store.certificate(record.certSha256);
  if (!cert || cert.path.length === 0) return;
  const path = cert.path.map((b64) => deps.certs.parse(Buffer.from(b64, 'base64')));
  await deps.revocation.check(identity.config, path, new Date(now));
}
