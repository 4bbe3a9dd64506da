import { z } from 'zod';
import { identitySchema } from '../../config/schema.js';
import { normalizeIssuer, normalizeSerial, normalizeSha256 } from '../../pki/parsing/certificate-id.js';
import type { CertificateSelector } from '../../store/types.js';

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

// ---- admin: certificate revocation ----

/**
 * A string field whose refusal has its own code (the code of the check this schema replaced);
 * `json` is its JSON Schema, as a custom check has none of its own.
 */
const codedString = (code: string, message: string, valid: (v: string) => boolean, json: Record<string, unknown>) =>
  // abort: false, so the whole-body check below still runs and can be reported first.
  z.custom<string>((v) => typeof v === 'string' && valid(v), { params: { code }, message, abort: false }).meta(json);

/**
 * `{sha256}` or `{issuer, serial}`, exactly one form, nothing else. The issuer is certgate's
 * rendering of the DN (what the login audit line and `check-cert` print); the serial is hex.
 * Answers the normalized selector.
 */
export const certificateRevokeRequest = z
  .strictObject(
    {
      sha256: codedString('invalid_sha256', '"sha256" must be the certificate\'s SHA-256: 64 hex digits (colons allowed)', (v) => normalizeSha256(v) !== undefined, {
        type: 'string',
        pattern: '^\\s*[0-9A-Fa-f:]+\\s*$',
        description: "The certificate's SHA-256 fingerprint: 64 hex digits, colons allowed (as `openssl x509 -fingerprint -sha256` prints).",
      }).optional(),
      issuer: codedString('invalid_issuer', '"issuer" must be a distinguished name as certgate prints it, e.g. "CN=Example CA, O=Example"', (v) => normalizeIssuer(v) !== undefined, {
        type: 'string',
        description: 'The issuer DN as certgate prints it (login audit line, `check-cert`), e.g. "CN=Example CA, O=Example".',
      }).optional(),
      serial: codedString('invalid_serial', '"serial" must be the serial number in hex (at most 64 digits, colons allowed)', (v) => normalizeSerial(v) !== undefined, {
        type: 'string',
        pattern: '^\\s*(0x)?[0-9A-Fa-f:]+\\s*$',
        description: 'The serial number in hex, colons allowed.',
      }).optional(),
    },
    { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}; give {sha256} or {issuer, serial}` : undefined) },
  )
  .superRefine((v, ctx) => {
    const bySha = v.sha256 !== undefined;
    const bySerial = v.issuer !== undefined || v.serial !== undefined;
    if (bySha === bySerial) ctx.addIssue({ code: 'custom', params: { code: 'invalid_certificate_selector' }, message: 'give exactly one of {sha256} or {issuer, serial}' });
    else if (bySerial && (v.issuer === undefined || v.serial === undefined)) {
      ctx.addIssue({ code: 'custom', params: { code: 'invalid_certificate_selector' }, message: '"issuer" and "serial" go together' });
    }
    // Also when a field is invalid: which form of body comes first (parseBody reports whole-body issues first).
  }, { when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) })
  .transform((v): CertificateSelector => (v.sha256 !== undefined ? { sha256: normalizeSha256(v.sha256)! } : { issuer: normalizeIssuer(v.issuer!)!, serial: normalizeSerial(v.serial!)! }))
  .meta({
    id: 'CertificateRevokeRequest',
    oneOf: [{ required: ['sha256'] }, { required: ['issuer', 'serial'] }],
    examples: [{ sha256: '3f'.repeat(32) }, { issuer: 'CN=Example CA, O=Example', serial: '01f4' }],
  });

export const certificateRevokeResponse = z
  .object({
    revokedTokens: z.number().int().meta({ description: 'Outstanding tokens revoked, on every gateway sharing the store.' }),
    certificates: z
      .array(z.object({ sha256: z.string(), issuer: z.string(), serial: z.string(), notAfter: z.string().meta({ format: 'date-time' }) }))
      .meta({ description: 'The matching certificates the store knew (those that have had tokens); empty for one never seen.' }),
  })
  .meta({ id: 'CertificateRevokeAnswer' });

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
