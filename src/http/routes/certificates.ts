import type Router from '@koa/router';
import { badRequest } from '../../errors.js';
import { normalizeIssuer, normalizeSerial, normalizeSha256 } from '../../pki/parsing/certificate-id.js';
import type { CertificateSelector } from '../../store/types.js';
import { readJsonObject } from '../body.js';
import type { Gateway } from '../gateway.js';

const FIELDS = new Set(['sha256', 'issuer', 'serial']);

/**
 * `{sha256}` or `{issuer, serial}`, exactly one form, nothing else. The issuer is certgate's
 * rendering of the DN (what the login audit line and `check-cert` print); the serial is hex.
 */
export function certificateSelector(body: Record<string, unknown>): CertificateSelector {
  const unknown = Object.keys(body).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw badRequest('invalid_body', `unknown field(s): ${unknown.join(', ')}; give {sha256} or {issuer, serial}`);
  const bySha = body.sha256 !== undefined;
  const bySerial = body.issuer !== undefined || body.serial !== undefined;
  if (bySha === bySerial) throw badRequest('invalid_certificate_selector', 'give exactly one of {sha256} or {issuer, serial}');
  if (bySha) {
    const sha256 = typeof body.sha256 === 'string' ? normalizeSha256(body.sha256) : undefined;
    if (!sha256) throw badRequest('invalid_sha256', '"sha256" must be the certificate\'s SHA-256: 64 hex digits (colons allowed)');
    return { sha256 };
  }
  if (body.issuer === undefined || body.serial === undefined) throw badRequest('invalid_certificate_selector', '"issuer" and "serial" go together');
  const issuer = typeof body.issuer === 'string' ? normalizeIssuer(body.issuer) : undefined;
  if (!issuer) throw badRequest('invalid_issuer', '"issuer" must be a distinguished name as certgate prints it, e.g. "CN=Example CA, O=Example"');
  const serial = typeof body.serial === 'string' ? normalizeSerial(body.serial) : undefined;
  if (!serial) throw badRequest('invalid_serial', '"serial" must be the serial number in hex (at most 64 digits, colons allowed)');
  return { issuer, serial };
}

/** POST /certificates/revoke on the admin router (its admin-token check applies). */
export function certificateRoutes(r: Router, gw: Gateway): void {
  r.post('/certificates/revoke', async (ctx) => {
    const selector = certificateSelector(await readJsonObject(ctx));
    const result = await gw.certRevocations.revoke(selector, { source: 'admin-api', by: 'admin-api' });
    ctx.body = {
      revokedTokens: result.tokens,
      // The certificates the store knew (that have had tokens); empty for one never seen.
      certificates: result.certificates.map((c) => ({ sha256: c.sha256, issuer: c.issuer, serial: c.serial, notAfter: new Date(c.notAfter).toISOString() })),
    };
  });
}
