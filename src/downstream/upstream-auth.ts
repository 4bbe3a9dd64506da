import { randomUUID } from 'node:crypto';
import type { RouteConfig } from '../config/schema.js';
import type { CompiledIdentity } from '../identity/policy.js';
import type { TokenRecord } from '../store/types.js';
import { signToken } from '../token/jwt.js';
import type { KeyRing } from '../token/keys.js';

/**
 * The credential certgate presents upstream. `jwt`: a fresh per-call token for that upstream only
 * (aud = the upstream, exp ≤ 60 s, kid set, scope a space-separated string, the identity's claims —
 * what le-cert-server and step-ca's OIDC provisioner check). `header`: a static secret header.
 * The caller's own bearer token never leaves the gateway.
 */
export async function upstreamCredential(
  route: RouteConfig,
  record: TokenRecord,
  identity: CompiledIdentity,
  keys: KeyRing,
  issuer: string,
  nowMs: number,
): Promise<[string, string] | null> {
  const auth = route.upstreamAuth;
  if (!auth) return null;
  if (auth.type === 'header') return [auth.name, auth.value];
  const now = Math.floor(nowMs / 1000);
  const token = await signToken(
    {
      ...identity.config.claims,
      iss: issuer,
      aud: auth.audience,
      sub: record.identityId,
      jti: randomUUID(),
      // A little in the past: le-cert-server checks nbf/iat with no clock skew at all.
      iat: now - 5,
      nbf: now - 5,
      exp: now + auth.ttl,
      scope: record.scopes.join(' '),
    },
    keys.active,
  );
  return ['authorization', `Bearer ${token}`];
}
