import { z } from 'zod';
import { identitySchema } from '../../config/schema.js';

/**
 * The request bodies the gateway's own endpoints accept, and the answers they give. Handlers
 * validate with these (src/http/body.ts parseBody) and the OpenAPI document is generated from them
 * (src/http/api/openapi.ts), so the two cannot drift. A custom issue may carry `params: {code}`:
 * parseBody answers 400 with that code instead of `invalid_body`.
 */

/** The messages of the hand-written checks these schemas replaced. */
const nonEmpty = (what: string) =>
  z.string({ error: (i) => (i.input === undefined ? `"${what}" is required` : `"${what}" must be a non-empty string`) }).min(1, `"${what}" must be a non-empty string`);

/**
 * Login. Unknown fields are accepted and ignored: Infisical's clients send `organizationSlug` etc.
 * `null` reads as absent, as before.
 */
export const loginRequest = z
  .object({
    identityId: nonEmpty('identityId')
      .nullish()
      .meta({ description: 'The identity to log in as. Omitted: the one identity the certificate satisfies (none → 401, several → 409 ambiguous_identity).' }),
  })
  .loose()
  .meta({ id: 'LoginRequest', examples: [{ identityId: 'build-agents' }] });

/** Renew and revoke: the token travels in the body, as in Infisical's API. */
export const accessTokenRequest = z
  .object({ accessToken: nonEmpty('accessToken').meta({ description: 'The access token (a JWT) issued by login or renew.' }) })
  .loose()
  .meta({ id: 'AccessTokenRequest' });

/**
 * RFC 7662 introspection request, as a form (the RFC's encoding) or JSON. A missing token is
 * answered `{active:false}` like any token that is not active.
 */
export const introspectionRequest = z
  .object({
    token: z.string({ error: '"token" must be a string' }).optional().meta({ description: 'The access token to introspect.' }),
    token_type_hint: z.string({ error: '"token_type_hint" must be a string' }).optional().meta({ description: 'Accepted and ignored: certgate issues access tokens only.' }),
  })
  .loose()
  .meta({ id: 'IntrospectionRequest' });

/**
 * The admin API's PUT body: one identity exactly as in the file's `identities:` (the same schema;
 * handlers validate it through buildIdentity, which adds the CA bundle checks). `id` may be
 * omitted; when present it must equal the path's.
 */
export const identityDocument = identitySchema;

// ---- answers ----

export const errorResponse = z
  .object({
    statusCode: z.number().int().meta({ description: 'The HTTP status, repeated.' }),
    error: z.string().meta({ description: 'A stable machine-readable code (see x-error-codes of each response).' }),
    message: z.string().meta({ description: 'A human-readable explanation; never contains a token, key or certificate header.' }),
    reqId: z.string().meta({ description: 'The request id, also in the X-Request-Id header and the logs.' }),
  })
  .meta({ id: 'Error' });

export const tokenResponse = z
  .object({
    accessToken: z.string().meta({ description: 'A signed JWT (see /.well-known/jwks.json).' }),
    expiresIn: z.number().int().meta({ description: 'Seconds until this token expires.' }),
    accessTokenMaxTTL: z.number().int().meta({ description: 'Seconds the token can live in total, across renewals, from its first issue.' }),
    tokenType: z.literal('Bearer'),
  })
  .meta({ id: 'TokenResponse' });

export const messageResponse = z.object({ message: z.string() }).meta({ id: 'MessageResponse' });

export const tokenSelfResponse = z
  .object({
    identityId: z.string(),
    subject: z.string().meta({ description: "The certificate's subject DN." }),
    scopes: z.array(z.string()),
    expiresAt: z.string().meta({ format: 'date-time' }),
    maxExpiresAt: z.string().meta({ format: 'date-time' }),
    usesRemaining: z.number().int().nullable().meta({ description: 'null when the identity sets no use limit.' }),
  })
  .meta({ id: 'TokenSelf' });

export const introspectionResponse = z
  .object({
    active: z.boolean(),
    sub: z.string().optional(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    token_type: z.literal('Bearer').optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    nbf: z.number().int().optional(),
    iss: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    jti: z.string().optional(),
    identity_id: z.string().optional(),
    subject: z.string().optional(),
    uses_remaining: z.number().int().nullable().optional(),
    cnf: z.object({ 'x5t#S256': z.string() }).optional(),
  })
  .meta({ id: 'IntrospectionResponse', description: 'RFC 7662: `{active:false}` alone for any token that is not active.' });

const identitySource = z.enum(['file', 'api']);

export const identityListResponse = z
  .object({
    identities: z.array(z.object({ id: z.string(), name: z.string(), scopes: z.array(z.string()), source: identitySource })),
  })
  .meta({ id: 'IdentityList' });

export const identityResponse = z
  .object({ source: identitySource, identity: z.record(z.string(), z.unknown()).meta({ description: 'The identity document, as stored (api) or as configured (file).' }) })
  .meta({ id: 'IdentityAnswer' });

export const revokeIdentityTokensResponse = z
  .object({ message: z.string(), revokedBefore: z.string().meta({ format: 'date-time' }) })
  .meta({ id: 'RevokeIdentityTokensAnswer' });

export const healthResponse = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const readyResponse = z.object({ status: z.literal('ready'), store: z.string() }).meta({ id: 'Ready' });

export const openIdConfigurationResponse = z
  .object({
    issuer: z.string(),
    jwks_uri: z.string(),
    introspection_endpoint: z.string(),
    id_token_signing_alg_values_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    subject_types_supported: z.array(z.string()),
    grant_types_supported: z.array(z.string()),
    tls_client_certificate_bound_access_tokens: z.boolean(),
  })
  .loose()
  .meta({ id: 'OpenIdConfiguration' });

export const jwksResponse = z
  .object({ keys: z.array(z.object({ kid: z.string(), kty: z.string(), alg: z.string(), use: z.string().optional() }).loose()) })
  .meta({ id: 'JWKS' });

export const openApiResponse = z.object({ openapi: z.string() }).loose().meta({ id: 'OpenAPIDocument', description: 'This document.' });
