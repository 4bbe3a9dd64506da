import Router from '@koa/router';
import type { Gateway } from '../gateway.js';

/**
 * How long a downstream may cache the JWKS, seconds. A new key is in this gateway's JWKS at most
 * KEY_REFRESH_MS after it was written (10 s is the promise) and signs publishBefore after it was
 * written, so a JWKS fetched just before the gateway saw the key and cached for
 * publishBefore − 10 s expires before the key signs. Capped at 5 minutes so a retired or withdrawn
 * key leaves caches soon. Downstreams that clamp max-age upwards (le-cert-server: 15 minutes) need a
 * publishBefore longer than their clamp.
 */
export const jwksMaxAge = (publishBeforeSec: number) => Math.max(0, Math.min(300, publishBeforeSec - 10));

/**
 * OIDC discovery and JWKS, so downstreams (le-cert-server, step-ca's OIDC provisioner) verify
 * certgate's tokens themselves. le-cert-server never refetches on an unknown kid, so keys are
 * published before use (keys.publishBefore).
 */
export function oidcRoutes(gw: Gateway): Router {
  const r = new Router();
  const issuer = gw.config.issuer.replace(/\/+$/, '');
  r.get('/.well-known/openid-configuration', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=900');
    ctx.body = {
      issuer: gw.config.issuer,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      introspection_endpoint: `${issuer}/oauth2/introspect`,
      id_token_signing_alg_values_supported: [...new Set(gw.keys.jwks().keys.map((k) => k.alg!))],
      token_endpoint_auth_methods_supported: ['tls_client_auth'],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      grant_types_supported: ['urn:certgate:tls-cert-auth'],
      tls_client_certificate_bound_access_tokens: true,
    };
  });
  r.get('/.well-known/jwks.json', (ctx) => {
    ctx.set('Cache-Control', `public, max-age=${jwksMaxAge(gw.config.keys.publishBefore)}`);
    ctx.body = gw.keys.jwks();
  });
  return r;
}
