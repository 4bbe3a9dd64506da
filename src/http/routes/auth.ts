import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { audit } from '../../audit/events.js';
import { isCertgateError } from '../../errors.js';
import { claimHeaderName } from '../../identity/certificate-claims.js';
import { accessTokenRequest } from '../api/schemas.js';
import { parseBody } from '../body.js';
import { authorizeRequest } from '../bearer.js';
import { callerOf, presentedCertificate } from '../caller.js';
import { loginHandler } from '../login.js';
import type { Gateway } from '../gateway.js';
import type { TokenRecord } from '../../store/types.js';

/** The exact forward-auth path (204); longer paths are Envoy ext_authz's (200). */
export const FORWARD_PATH = '/api/v1/auth/forward';

/** The Infisical-compatible auth endpoints: login, renew, revoke, self, forward-auth. */
export function authRoutes(gw: Gateway): Router {
  const r = new Router({ prefix: '/api/v1/auth' });

  // The exact path is answered in front of Koa (src/http/fast-paths.ts) by the same handler.
  const login = loginHandler(gw);
  r.post('/tls-cert-auth/login', noStore, async (ctx) => {
    ctx.body = await login(ctx);
  });

  r.post('/token/renew', noStore, async (ctx) => {
    const token = (await parseBody(ctx, accessTokenRequest)).accessToken;
    const caller = callerOf(ctx, gw);
    const presentedCertSha256 = () => presentedCertificate(ctx, gw, caller)?.leaf.sha256;
    try {
      const { response, claims } = await gw.tokens.renew(token, { clientIp: caller.clientIp, presentedCertSha256 });
      audit(gw.log, 'renew', { outcome: 'success', identity: claims.sub, jti: claims.jti, clientIp: caller.clientIp });
      ctx.body = response;
    } catch (e) {
      // Refusals are audited too: renew re-checks the certificate's revocation.
      audit(gw.log, 'renew', { outcome: 'refused', reason: isCertgateError(e) ? e.code : 'internal_error', clientIp: caller.clientIp });
      throw e;
    }
  });

  r.post('/token/revoke', async (ctx) => {
    const token = (await parseBody(ctx, accessTokenRequest)).accessToken;
    const claims = await gw.tokens.revoke(token);
    audit(gw.log, 'revoke', { identity: claims.sub, jti: claims.jti });
    ctx.body = { message: 'Successfully revoked access token' };
  });

  r.get('/token/self', async (ctx) => {
    const { record } = await authorizeRequest(ctx, gw, false);
    ctx.body = {
      identityId: record.identityId,
      subject: record.subject,
      scopes: record.scopes,
      expiresAt: new Date(record.expiresAt).toISOString(),
      maxExpiresAt: new Date(record.maxExpiresAt).toISOString(),
      usesRemaining: record.usesLimit === 0 ? null : record.usesRemaining,
    };
  });

  // Any method: nginx auth_request sends the original one; Traefik and Envoy may too. One use each.
  // The exact path is answered in front of Koa (src/http/fast-paths.ts) except for HEAD.
  const forward = forwardHandler(gw);
  r.all('/forward', forward);
  r.all('/forward/{*rest}', forward);

  return r;
}

/**
 * RFC 6749 §5.1: answers that carry a token (and their refusals, so no cache keeps either) must
 * not be stored. Set before the handler runs: the error handler keeps headers already set.
 */
export const NO_STORE_HEADERS: readonly [string, string][] = [
  ['Cache-Control', 'no-store'],
  ['Pragma', 'no-cache'],
];

async function noStore(ctx: Context, next: Next): Promise<void> {
  for (const [name, value] of NO_STORE_HEADERS) ctx.set(name, value);
  await next();
}

/**
 * Forward-auth: one bearer check that costs one use, the identity in response headers.
 * The exact path is answered before Koa by src/http/fast-paths.ts, with identityHeaders.
 */
function forwardHandler(gw: Gateway): (ctx: Context) => Promise<void> {
  return async (ctx) => {
    const { record } = await authorizeRequest(ctx, gw, true);
    for (const [name, value] of identityHeaders(record)) ctx.set(name, value);
    // nginx auth_request and Traefik take any 2xx; the documented answer is 204. Envoy ext_authz
    // (HTTP service) appends the original path to the configured prefix and lets the request
    // through only on 200: every longer path, `/forward/` included, answers 200 with no body.
    if (ctx.path === FORWARD_PATH) {
      ctx.status = 204;
    } else {
      ctx.status = 200;
      ctx.body = '';
    }
  };
}

/** The headers a successful forward-auth answers with. */
export function identityHeaders(record: TokenRecord): [string, string][] {
  return [
    ['X-Certgate-Identity', record.identityId],
    ['X-Certgate-Subject', headerSafe(record.subject)],
    ['X-Certgate-Scopes', record.scopes.join(' ')],
    ...Object.entries(record.certClaims ?? {}).map(([claim, value]): [string, string] => [
      claimHeaderName(claim),
      headerSafe(Array.isArray(value) ? value.map((v) => v.replace(/,/g, '%2C')).join(',') : value),
    ]),
  ];
}

/**
 * Header values must be printable ASCII; a UTF-8 subject is percent-encoded instead of crashing.
 * Lone surrogates are replaced first: a BMPString subject may decode to a lone surrogate, which
 * encodeURIComponent would throw on.
 */
function headerSafe(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
}
