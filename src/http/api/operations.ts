import type { z } from 'zod';
import * as s from './schemas.js';

/**
 * The catalogue of what the gateway serves (its own routers; `routes:` are added from the config by
 * openapi.ts). test/http/openapi.test.ts compares it with the routers' layers both ways, so a route
 * added without an entry here fails the suite.
 */

/** Every stable refusal code the HTTP API answers, with its status. */
export const ERROR_STATUS = {
  // request shape
  invalid_json: 400,
  invalid_body: 400,
  body_too_large: 413,
  // forwarded certificate headers (login, and any request a certificate-bound token rides on)
  untrusted_proxy: 401,
  proxy_verification_failed: 401,
  duplicate_certificate_header: 401,
  xfcc_hash_mismatch: 401,
  malformed_certificate_header: 400,
  certificate_header_too_large: 431,
  chain_too_long: 400,
  certificate_too_large: 400,
  malformed_certificate: 400,
  // certificate authentication
  certificate_required: 401,
  certificate_expired: 401,
  certificate_not_yet_valid: 401,
  common_name_not_allowed: 401,
  subject_alt_name_not_allowed: 401,
  multiple_common_names: 401,
  chain_incomplete: 401,
  signature_invalid: 401,
  issuer_not_ca: 401,
  issuer_expired: 401,
  issuer_not_yet_valid: 401,
  path_length_exceeded: 401,
  name_constraints_violated: 401,
  name_constraints_too_complex: 401,
  nonconforming_certificate: 401,
  path_search_budget_exceeded: 401,
  key_usage_not_allowed: 401,
  extended_key_usage_not_allowed: 401,
  unhandled_critical_extension: 401,
  weak_signature_algorithm: 401,
  weak_or_unsupported_key: 401,
  ca_certificate_as_client: 401,
  certificate_revoked: 401,
  certificate_status_unknown: 401,
  revocation_unavailable: 401,
  no_identities_configured: 401,
  unknown_identity: 400,
  ambiguous_identity: 409,
  login_ip_not_allowed: 403,
  rate_limited: 429,
  token_quota_exceeded: 429,
  // bearer tokens
  token_missing: 401,
  token_malformed: 401,
  token_too_large: 401,
  token_signature_invalid: 401,
  token_key_unknown: 401,
  token_algorithm_not_allowed: 401,
  token_claim_invalid: 401,
  token_expired: 401,
  token_not_yet_valid: 401,
  token_unknown: 401,
  token_revoked: 401,
  token_uses_exhausted: 401,
  token_max_ttl_reached: 401,
  token_binding_invalid: 401,
  token_certificate_mismatch: 401,
  token_ip_not_allowed: 403,
  insufficient_scope: 403,
  // downstream routes
  invalid_path: 400,
  upstream_unavailable: 502,
  // introspection and admin
  invalid_client: 401,
  admin_unauthorized: 401,
  invalid_identity_id: 400,
  identity_id_mismatch: 400,
  identity_unknown_keys: 400,
  identity_invalid_ca: 400,
  identity_invalid: 400,
  identity_not_found: 404,
  identity_managed_by_config: 409,
  invalid_certificate_selector: 400,
  invalid_sha256: 400,
  invalid_issuer: 400,
  invalid_serial: 400,
  // the store and the process
  store_unavailable: 503,
  store_misconfigured: 503,
  shutting_down: 503,
  metrics_unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

const STORE: ErrorCode[] = ['store_unavailable', 'store_misconfigured'];
const BODY: ErrorCode[] = ['invalid_json', 'invalid_body', 'body_too_large'];
const PROXY: ErrorCode[] = [
  'untrusted_proxy', 'proxy_verification_failed', 'duplicate_certificate_header', 'xfcc_hash_mismatch',
  'malformed_certificate_header', 'certificate_header_too_large', 'chain_too_long', 'certificate_too_large', 'malformed_certificate',
];
const CERTIFICATE: ErrorCode[] = [
  'certificate_required', 'certificate_expired', 'certificate_not_yet_valid', 'common_name_not_allowed', 'subject_alt_name_not_allowed',
  'multiple_common_names', 'chain_incomplete', 'signature_invalid', 'issuer_not_ca', 'issuer_expired', 'issuer_not_yet_valid',
  'path_length_exceeded', 'name_constraints_violated', 'name_constraints_too_complex', 'nonconforming_certificate',
  'path_search_budget_exceeded', 'key_usage_not_allowed', 'extended_key_usage_not_allowed',
  'unhandled_critical_extension', 'weak_signature_algorithm', 'weak_or_unsupported_key', 'ca_certificate_as_client',
  'certificate_revoked', 'certificate_status_unknown', 'revocation_unavailable', 'no_identities_configured',
  'unknown_identity', 'ambiguous_identity', 'login_ip_not_allowed',
];
/** The token checks of every bearer call; a certificate-bound token also reads the request's certificate. */
const TOKEN: ErrorCode[] = [
  'token_missing', 'token_malformed', 'token_too_large', 'token_signature_invalid', 'token_key_unknown', 'token_algorithm_not_allowed',
  'token_claim_invalid', 'token_expired', 'token_not_yet_valid', 'token_unknown', 'token_revoked', 'token_uses_exhausted',
  'token_binding_invalid', 'token_certificate_mismatch', 'token_ip_not_allowed', ...PROXY,
];
const ADMIN: ErrorCode[] = ['admin_unauthorized'];

export type Security = 'none' | 'clientCertificate' | 'bearer' | 'adminBearer' | 'introspectionBasic';

export interface ResponseSpec {
  description: string;
  /** JSON answer schema; absent for an empty answer. */
  schema?: z.ZodType;
  /** A non-JSON answer (e.g. Prometheus text). */
  text?: string;
  headers?: Record<string, string>;
}

export interface Operation {
  /** `any`: every HTTP method is served (Koa `router.all`). */
  method: 'get' | 'post' | 'put' | 'delete' | 'any';
  /** OpenAPI form: `{id}`; `{rest}` stands for the rest of the path, slashes included. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  security: Security;
  request?: {
    schema: z.ZodType;
    example: Record<string, unknown>;
    /** Also accepted as application/x-www-form-urlencoded. */
    form?: boolean;
    required: boolean;
    /** Post-processing of the generated JSON Schema (see admin identity PUT). */
    adjust?: (schema: Record<string, unknown>) => Record<string, unknown>;
  };
  responses: Record<number, ResponseSpec>;
  errors: ErrorCode[];
}

/** A syntactically valid example token; the tests put a real one in its place. */
export const EXAMPLE_TOKEN = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImV4YW1wbGUifQ.eyJzdWIiOiJidWlsZC1hZ2VudHMifQ.c2lnbmF0dXJl';

/** A real (public, self-signed, long-lived) CA certificate, so the PUT example validates as is. */
const EXAMPLE_CA = `-----BEGIN CERTIFICATE-----
MIIBxDCCAWugAwIBAgIUO26b5eOvJh61A0aLl1WZMLDWReMwCgYIKoZIzj0EAwIw
LzEbMBkGA1UEAwwSRXhhbXBsZSBDbGllbnRzIENBMRAwDgYDVQQKDAdFeGFtcGxl
MCAXDTI2MTIwMjEwNTgyNVoYDzIxMjYxMTA4MTA1ODI1WjAvMRswGQYDVQQDDBJF
eGFtcGxlIENsaWVudHMgQ0ExEDAOBgNVBAoMB0V4YW1wbGUwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAQDdvsXiHyDsFHyWWLCk2SQJTdsASvRyZtz2wcqR78AV62N
yCtttB7orN4NJZ28mHI1Dvz39RMCfy9NAMAnzNeOo2MwYTAdBgNVHQ4EFgQUHfiD
cmVq5wu8yeIGwS9V3uafgUQwHwYDVR0jBBgwFoAUHfiDcmVq5wu8yeIGwS9V3uaf
gUQwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwID
RwAwRAIgKGrZIZRpgATVlILXRZsUzOIlnHYO5/+yW3AlQfsDF9QCID1hw8uqiruN
+Sj/yIwwgTldvBNsPlpaHCE3vh5vdUHj
-----END CERTIFICATE-----
`;

const FORWARD_HEADERS = {
  'X-Certgate-Identity': 'The identity id of the token.',
  'X-Certgate-Subject': "The certificate's subject DN (percent-encoded when not printable ASCII).",
  'X-Certgate-Scopes': 'The scopes of the token, space-separated.',
};

const forwardDescription =
  'Forward-auth for nginx `auth_request`, Traefik ForwardAuth and Envoy ext_authz. Any HTTP method; counts as one use of the token. ' +
  'Claims from `certificateClaims` are sent as `X-Certgate-Claim-<name>` headers.';

export const OPERATIONS: Operation[] = [
  {
    method: 'post', path: '/api/v1/auth/tls-cert-auth/login', operationId: 'login', tag: 'auth', security: 'clientCertificate',
    summary: 'Log in with a client certificate',
    description:
      'The certificate comes from the TLS handshake on the direct mTLS listener, or from the header of a terminator listed in `trustedProxies`. ' +
      'Unknown body fields (such as Infisical\'s `organizationSlug`) are ignored. The answer carries `Cache-Control: no-store`.',
    request: { schema: s.loginRequest, example: { identityId: 'build-agents' }, required: false },
    responses: { 200: { description: 'A new access token.', schema: s.tokenResponse } },
    errors: [...BODY, ...PROXY, ...CERTIFICATE, 'rate_limited', 'token_quota_exceeded', ...STORE],
  },
  {
    method: 'post', path: '/api/v1/auth/token/renew', operationId: 'renewToken', tag: 'auth', security: 'none',
    summary: 'Renew an access token',
    description:
      'The token is in the body (Infisical\'s shape). Refused once the token reaches its maximum lifetime (log in again then) and once its ' +
      'certificate is revoked. The answer carries `Cache-Control: no-store`.',
    request: { schema: s.accessTokenRequest, example: { accessToken: EXAMPLE_TOKEN }, required: true },
    responses: { 200: { description: 'The renewed token.', schema: s.tokenResponse } },
    // Renew re-checks the certificate's revocation (CRL, OCSP, certificates revoked by an operator).
    errors: [...BODY, ...TOKEN, 'token_max_ttl_reached', 'certificate_revoked', 'certificate_status_unknown', 'revocation_unavailable', ...STORE],
  },
  {
    method: 'post', path: '/api/v1/auth/token/revoke', operationId: 'revokeToken', tag: 'auth', security: 'none',
    summary: 'Revoke an access token',
    description: 'The token is in the body; it is refused on every gateway at once.',
    request: { schema: s.accessTokenRequest, example: { accessToken: EXAMPLE_TOKEN }, required: true },
    responses: { 200: { description: 'Revoked.', schema: s.messageResponse } },
    errors: [...BODY, ...TOKEN, ...STORE],
  },
  {
    method: 'get', path: '/api/v1/auth/token/self', operationId: 'tokenSelf', tag: 'auth', security: 'bearer',
    summary: 'Look up the calling token',
    description: 'A lookup: consumes no use.',
    responses: { 200: { description: 'The token record.', schema: s.tokenSelfResponse } },
    errors: [...TOKEN, ...STORE],
  },
  {
    method: 'any', path: '/api/v1/auth/forward', operationId: 'forwardAuth', tag: 'forward-auth', security: 'bearer',
    summary: 'Forward-auth check (204)',
    description: forwardDescription,
    responses: { 204: { description: 'Allowed; the identity is in the headers.', headers: FORWARD_HEADERS } },
    errors: [...TOKEN, ...STORE],
  },
  {
    method: 'any', path: '/api/v1/auth/forward/{rest}', operationId: 'forwardAuthPath', tag: 'forward-auth', security: 'bearer',
    summary: 'Forward-auth check for Envoy ext_authz (200)',
    description: `${forwardDescription} Envoy ext_authz appends the original path and allows only 200, so every longer path answers 200 with no body.`,
    responses: { 200: { description: 'Allowed (empty body); the identity is in the headers.', headers: FORWARD_HEADERS } },
    errors: [...TOKEN, ...STORE],
  },
  {
    method: 'post', path: '/oauth2/introspect', operationId: 'introspectToken', tag: 'oauth2', security: 'introspectionBasic',
    summary: 'Token introspection (RFC 7662)',
    description: 'Form-encoded (RFC 7662) or JSON. Consumes no use. A token that is not active, or no token, answers `{active:false}`.',
    request: { schema: s.introspectionRequest, example: { token: EXAMPLE_TOKEN, token_type_hint: 'access_token' }, form: true, required: true },
    responses: { 200: { description: 'The token\'s state.', schema: s.introspectionResponse } },
    errors: ['invalid_client', ...BODY, ...STORE],
  },
  {
    method: 'get', path: '/.well-known/openid-configuration', operationId: 'openidConfiguration', tag: 'discovery', security: 'none',
    summary: 'OIDC discovery document',
    responses: { 200: { description: 'Discovery metadata.', schema: s.openIdConfigurationResponse } },
    errors: [],
  },
  {
    method: 'get', path: '/.well-known/jwks.json', operationId: 'jwks', tag: 'discovery', security: 'none',
    summary: 'Public signing keys (JWKS)',
    responses: { 200: { description: 'Every published key, each with its `kid` and `alg`.', schema: s.jwksResponse } },
    errors: [],
  },
  {
    method: 'get', path: '/openapi.json', operationId: 'openapi', tag: 'discovery', security: 'none',
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: { description: 'Every route this gateway serves, its configured `routes:` included.', schema: s.openApiResponse } },
    errors: [],
  },
  {
    method: 'get', path: '/healthz', operationId: 'healthz', tag: 'operations', security: 'none',
    summary: 'Liveness',
    responses: { 200: { description: 'The process answers.', schema: s.healthResponse } },
    errors: [],
  },
  {
    method: 'get', path: '/readyz', operationId: 'readyz', tag: 'operations', security: 'none',
    summary: 'Readiness: the store answers and the gateway is not draining',
    responses: { 200: { description: 'Ready.', schema: s.readyResponse } },
    errors: ['shutting_down', ...STORE],
  },
  {
    method: 'get', path: '/metrics', operationId: 'metrics', tag: 'operations', security: 'none',
    summary: 'Prometheus metrics (with --workers N: every worker\'s, summed)',
    responses: { 200: { description: 'Prometheus text exposition format.', text: 'text/plain' } },
    errors: ['metrics_unavailable'],
  },
  {
    method: 'get', path: '/api/v1/admin/identities', operationId: 'listIdentities', tag: 'admin', security: 'adminBearer',
    summary: 'List identities (file and API)',
    responses: { 200: { description: 'Every identity with its source.', schema: s.identityListResponse } },
    errors: [...ADMIN],
  },
  {
    method: 'get', path: '/api/v1/admin/identities/{id}', operationId: 'getIdentity', tag: 'admin', security: 'adminBearer',
    summary: 'Get one identity',
    responses: { 200: { description: 'The identity document and its source.', schema: s.identityResponse } },
    errors: [...ADMIN, 'invalid_identity_id', 'identity_not_found', ...STORE],
  },
  {
    method: 'put', path: '/api/v1/admin/identities/{id}', operationId: 'putIdentity', tag: 'admin', security: 'adminBearer',
    summary: 'Create or replace an API identity',
    description:
      'The body is one identity as in the configuration file, validated exactly like it (CA bundle inline as `caCertificate`; ' +
      'file paths are refused). An `id` in the body must equal the path\'s. Every gateway sees the change within 2 s.',
    request: {
      schema: s.identityDocument,
      example: { name: 'Build agents', caCertificate: EXAMPLE_CA, allowedCommonNames: ['agent-*'], scopes: ['certificates:request'], accessTokenTTL: 3600 },
      required: true,
      // The file's schema requires `id`; here the path gives it.
      adjust: (schema) => {
        const { required, ...rest } = schema;
        const left = ((required as string[] | undefined) ?? []).filter((k) => k !== 'id');
        return left.length ? { ...rest, required: left } : rest;
      },
    },
    responses: {
      200: { description: 'Replaced.', schema: s.identityResponse },
      201: { description: 'Created.', schema: s.identityResponse },
    },
    errors: [...ADMIN, 'invalid_identity_id', 'identity_id_mismatch', 'identity_unknown_keys', 'identity_invalid_ca', 'identity_invalid', 'identity_managed_by_config', ...BODY, ...STORE],
  },
  {
    method: 'delete', path: '/api/v1/admin/identities/{id}', operationId: 'deleteIdentity', tag: 'admin', security: 'adminBearer',
    summary: 'Delete an API identity; its tokens die at once',
    responses: { 204: { description: 'Deleted.' } },
    errors: [...ADMIN, 'invalid_identity_id', 'identity_not_found', 'identity_managed_by_config', ...STORE],
  },
  {
    method: 'post', path: '/api/v1/admin/certificates/revoke', operationId: 'revokeCertificate', tag: 'admin', security: 'adminBearer',
    summary: 'Revoke a certificate and every token issued from it',
    description:
      'Names the certificate by its SHA-256, or by its issuer DN and serial (what a CRL lists). Every outstanding token issued from it ' +
      'is revoked on every gateway at once, and its logins are refused (401 `certificate_revoked`) until its notAfter.',
    request: { schema: s.certificateRevokeRequest, example: { sha256: '3f'.repeat(32) }, required: true },
    responses: { 200: { description: 'Revoked.', schema: s.certificateRevokeResponse } },
    errors: [...ADMIN, 'invalid_certificate_selector', 'invalid_sha256', 'invalid_issuer', 'invalid_serial', ...BODY, ...STORE],
  },
  {
    method: 'post', path: '/api/v1/admin/identities/{id}/revoke-tokens', operationId: 'revokeIdentityTokens', tag: 'admin', security: 'adminBearer',
    summary: 'Revoke every token of an identity issued until now',
    responses: { 200: { description: 'Revoked on every gateway sharing the store.', schema: s.revokeIdentityTokensResponse } },
    errors: [...ADMIN, 'invalid_identity_id', ...STORE],
  },
];

/** Configured `routes:`: every method, the upstream's answer. */
export const DOWNSTREAM_ERRORS: ErrorCode[] = [...TOKEN, 'insufficient_scope', 'invalid_path', 'upstream_unavailable', ...STORE];
