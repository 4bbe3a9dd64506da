import Router from '@koa/router';
import type { Gateway } from '../gateway.js';

/**
 * OIDC discovery and JWKS, so downstreams (le-cert-server, step-ca's OIDC provisioner) verify
 * certgate's tokens themselves. The JWKS is cacheable for 15 minutes: le-cert-server clamps
 * max-age to at least that, and never refetches on an unknown kid, so keys are published before use.
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
      id_token_signing_alg_values_supported: ['ES256'],
      token_endpoint_auth_methods_supported: ['tls_client_auth'],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      grant_types_supported: ['urn:certgate:tls-cert-auth'],
      tls_client_certificate_bound_access_tokens: true,
    };
  });
  r.get('/.well-known/jwks.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=900');
    ctx.body = gw.keys.jwks();
  });
  return r;
}
