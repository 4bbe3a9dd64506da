import { certRefused } from '../errors.js';
import { trimOws } from './encoding.js';
import type { HeaderFormat } from './types.js';

/**
 * What a terminator's verification status reads when it checked the client chain and liked it:
 * - nginx / ingress-nginx `$ssl_client_verify`, Apache `%{SSL_CLIENT_VERIFY}s`: `SUCCESS`
 *   (otherwise `NONE`, `FAILED:<reason>`, `GENEROUS`).
 * - HAProxy: point `verifyHeader` at `%[ssl_c_verify]`, the OpenSSL verify result, `0` = OK.
 *   Note it is also 0 when no certificate was sent; it is only consulted when one was.
 * - rfc9440: GCP's mTLS `{client_cert_chain_verified}` custom header reads `true`.
 * - any other format: `SUCCESS`, for operators who set a status header from their own logic.
 * Exact, case-sensitive match: `success` or `SUCCESS ` from a terminator would be a surprise
 * worth refusing over.
 */
const VERIFIED: Record<HeaderFormat, readonly string[]> = {
  nginx: ['SUCCESS'],
  apache: ['SUCCESS'],
  haproxy: ['0'],
  rfc9440: ['SUCCESS', 'true'],
  alb: ['SUCCESS'],
  'envoy-xfcc': ['SUCCESS'],
  traefik: ['SUCCESS'],
  caddy: ['SUCCESS'],
  azure: ['SUCCESS'],
  pem: ['SUCCESS'],
  'der-base64': ['SUCCESS'],
};

/**
 * The optional cross-check of `trustedProxies[].verifyHeader`: throws 401
 * `proxy_verification_failed` unless the terminator says it verified the chain. Absent counts
 * as not verified. This never replaces the gateway's own chain validation.
 */
export function checkVerifyHeader(format: HeaderFormat, value: string | undefined): void {
  const status = value === undefined ? undefined : trimOws(value);
  if (status === undefined || !VERIFIED[format].includes(status)) {
    const shown = status === undefined ? 'absent' : JSON.stringify(status.slice(0, 64));
    throw certRefused('proxy_verification_failed', `terminator did not verify the client certificate (status ${shown})`);
  }
}
