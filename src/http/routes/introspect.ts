import Router from '@koa/router';
import type { Context } from 'koa';
import { audit } from '../../audit/events.js';
import { CertgateError, isCertgateError } from '../../errors.js';
import { secretIndex } from '../../util/secret.js';
import { introspectionRequest } from '../api/schemas.js';
import { parseFormOrJsonBody } from '../body.js';
import { liveOf } from '../../live/state.js';
import type { Gateway } from '../gateway.js';

function unauthorizedClient(): CertgateError {
  return new CertgateError('invalid_client', 401, 'introspection client authentication failed', {
    'WWW-Authenticate': 'Basic realm="certgate introspection"',
  });
}

/** HTTP Basic client authentication; ids and secrets compared in constant time. */
function authenticateClient(ctx: Context, gw: Gateway): string {
  const m = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(ctx.get('authorization'));
  if (!m) throw unauthorizedClient();
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw unauthorizedClient();
  // RFC 6749 §2.3.1: client id and secret are form-encoded inside Basic.
  let id: string, secret: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
  } catch {
    throw unauthorizedClient();
  }
  // id and secret compared together, in constant time, against every configured client.
  const clients = liveOf(ctx).config.introspection.clients;
  const i = secretIndex(`${id}\0${secret}`, clients.map((c) => `${c.id}\0${c.secret}`));
  const client = clients[i];
  if (!client) throw unauthorizedClient();
  return client.id;
}

/** RFC 7662 token introspection. Consumes no use; any invalid token is just `{active:false}`. */
export function introspectRoutes(gw: Gateway): Router {
  const r = new Router();
  r.post('/oauth2/introspect', async (ctx) => {
    const client = authenticateClient(ctx, gw);
    const token = (await parseFormOrJsonBody(ctx, introspectionRequest)).token ?? '';
    ctx.set('Cache-Control', 'no-store');
    try {
      const claims = await gw.tokens.verify(token);
      const record = await gw.tokens.lookup(claims);
      ctx.body = {
        active: true,
        sub: claims.sub,
        scope: claims.scope,
        client_id: claims.sub,
        token_type: 'Bearer',
        exp: Math.floor(record.expiresAt / 1000),
        iat: claims.iat,
        nbf: claims.nbf,
        iss: claims.iss,
        aud: claims.aud,
        jti: claims.jti,
        identity_id: record.identityId,
        subject: record.subject,
        uses_remaining: record.usesLimit === 0 ? null : record.usesRemaining,
        ...(claims.cnf ? { cnf: claims.cnf } : {}),
      };
      audit(gw.log, 'introspection', { client, active: true, identity: record.identityId, jti: claims.jti });
    } catch (e) {
      // A store outage is not "inactive": answering inactive would hide it, active would fail open.
      if (isCertgateError(e) && e.code === 'store_unavailable') throw e;
      if (!isCertgateError(e)) throw e;
      audit(gw.log, 'introspection', { client, active: false });
      ctx.body = { active: false };
    }
  });
  return r;
}
