import Router from '@koa/router';
import type { Context } from 'koa';
import { audit } from '../../audit/events.js';
import { CertgateError, badRequest } from '../../errors.js';
import { IDENTITY_ID } from '../../config/schema.js';
import { liveOf } from '../../live/state.js';
import { digestMatches } from '../../util/secret.js';
import type { Gateway } from '../gateway.js';
import { certificateRoutes } from './certificates.js';
import { adminIdentityRoutes } from './admin-identities.js';

function requireAdmin(ctx: Context, gw: Gateway): void {
  const m = /^Bearer (.+)$/i.exec(ctx.get('authorization'));
  if (!m || !digestMatches(m[1]!, liveOf(ctx).adminTokenDigests)) {
    throw new CertgateError('admin_unauthorized', 401, 'a valid admin token is required', { 'WWW-Authenticate': 'Bearer realm="certgate admin"' });
  }
}

/** Operator endpoints. Revoke-all sets a watermark in the store: every gateway sees it at once. */
export function adminRoutes(gw: Gateway): Router {
  const r = new Router({ prefix: '/api/v1/admin' });
  r.use(async (ctx, next) => {
    requireAdmin(ctx, gw);
    await next();
  });
  adminIdentityRoutes(r, gw);
  r.post('/identities/:id/revoke-tokens', async (ctx) => {
    const id = ctx.params.id!;
    // Also for ids no longer configured: their tokens are refused anyway, but an operator who
    // removed an identity and then revokes it must not be told no.
    if (!IDENTITY_ID.test(id)) throw badRequest('invalid_identity_id', 'identity ids match [a-z0-9._-]{1,128}');
    const at = gw.clock.now();
    await gw.store.revokeIdentity(id, at);
    audit(gw.log, 'revoke_identity', { identity: id, at, by: 'admin-api' }, 'all tokens of identity revoked');
    ctx.body = { message: `Revoked every token of identity "${id}" issued until now`, revokedBefore: new Date(at).toISOString() };
  });
  certificateRoutes(r, gw);
  return r;
}
