import { audit } from '../audit/events.js';
import { tokenRefused } from '../errors.js';
import type { Authorized } from '../token/service.js';
import { callerOf, presentedCertificate, type Caller, type RequestView } from './caller.js';
import type { Gateway } from './gateway.js';

/** The token of `Authorization: Bearer …` (RFC 6750: scheme case-insensitive, one space). */
function bearerToken(ctx: RequestView): string {
  const values = ctx.req.headersDistinct.authorization;
  if (!values || values.length === 0) throw tokenRefused('token_missing', 'an Authorization: Bearer token is required');
  if (values.length > 1) throw tokenRefused('token_malformed', 'several Authorization headers');
  const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(values[0]!);
  if (!m) throw tokenRefused('token_malformed', 'the Authorization header is not a Bearer token');
  return m[1]!;
}

/**
 * The one bearer check used by every protected endpoint and route. `consume` says whether the
 * call counts as a use (lookups like token/self do not).
 */
export async function authorizeRequest(ctx: RequestView, gw: Gateway, consume: boolean, requiredScopes?: readonly string[]): Promise<Authorized & { caller: Caller }> {
  let caller: Caller | undefined;
  try {
    const token = bearerToken(ctx);
    caller = callerOf(ctx, gw);
    const c = caller;
    // Reading the request's certificate is only needed, and only done, for a bound token.
    const presentedCertSha256 = () => presentedCertificate(ctx, gw, c)?.leaf.sha256;
    const auth = await gw.tokens.authorize(token, { clientIp: c.clientIp, presentedCertSha256, consume, requiredScopes });
    gw.metrics.tokenChecks.inc({ outcome: 'allowed', code: '' });
    return { ...auth, caller: c };
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'unknown';
    gw.metrics.tokenChecks.inc({ outcome: 'refused', code });
    // A store outage is not the token's fault; it is audited once, as store_unavailable.
    if (code !== 'store_unavailable') audit(gw.log, 'token_refused', { reason: code, clientIp: caller?.clientIp ?? ctx.req.socket.remoteAddress, path: ctx.path });
    throw e;
  }
}
