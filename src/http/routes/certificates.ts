import type Router from '@koa/router';
import { certificateRevokeRequest } from '../api/schemas.js';
import { parseBody } from '../body.js';
import type { Gateway } from '../gateway.js';

/**
 * POST /certificates/revoke on the admin router (its admin-token check applies). The body,
 * `{sha256}` or `{issuer, serial}`, is validated and normalized by certificateRevokeRequest.
 */
export function certificateRoutes(r: Router, gw: Gateway): void {
  r.post('/certificates/revoke', async (ctx) => {
    const selector = await parseBody(ctx, certificateRevokeRequest);
    const result = await gw.certRevocations.revoke(selector, { source: 'admin-api', by: 'admin-api' });
    ctx.body = {
      revokedTokens: result.tokens,
      // The certificates the store knew (that have had tokens); empty for one never seen.
      certificates: result.certificates.map((c) => ({ sha256: c.sha256, issuer: c.issuer, serial: c.serial, notAfter: new Date(c.notAfter).toISOString() })),
    };
  });
}
