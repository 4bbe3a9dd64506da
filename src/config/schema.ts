import { z } from 'zod';
import { HEADER_FORMATS } from '../proxy/types.js';
import { assertCidr, CidrSet } from '../util/cidr.js';
import { compileSpiffePattern } from '../identity/spiffe.js';
import { overlappingProxyEntries } from '../proxy/overlap.js';

/** A CIDR list whose entries are validated at startup, not at first use. */
const cidrList = z.array(
  z.string().superRefine((v, ctx) => {
    try {
      assertCidr(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }),
);

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid HTTP header name')
  .transform((s) => s.toLowerCase());

/**
 * A trusted-proxy range lets every peer inside it speak for any client certificate, so ranges that
 * cover everyone are refused: /0, and IPv6 ranges that contain the IPv4-mapped space
 * (::ffff:0:0/96), which would match every IPv4 peer too.
 */
const proxyCidrList = cidrList.min(1).superRefine((cidrs, ctx) => {
  cidrs.forEach((c, i) => {
    const [addr, len] = c.split('/');
    const prefix = len === undefined ? 128 : Number(len);
    if (prefix === 0) ctx.addIssue({ code: 'custom', path: [i], message: 'a /0 range would trust every peer as a terminator' });
    else if (addr?.includes(':') && prefix <= 96 && new CidrSet([c]).contains('::ffff:0.0.0.0') && new CidrSet([c]).contains('::ffff:255.255.255.255')) {
      ctx.addIssue({ code: 'custom', path: [i], message: 'this IPv6 range contains the IPv4-mapped space and would trust every IPv4 peer' });
    }
  });
});

const trustedProxy = z
  .object({
    cidrs: proxyCidrList,
    header: headerName,
    format: z.enum(HEADER_FORMATS),
    chainHeader: headerName.optional(),
    verifyHeader: headerName.optional(),
  })
  .strict()
  .refine((p) => !(p.format === 'envoy-xfcc' && p.chainHeader), {
    path: ['chainHeader'],
    message: 'envoy-xfcc carries the chain inside the XFCC header (Chain=); remove chainHeader',
  });

/** Identity ids: also the `sub` of tokens and part of Redis keys. */
export const IDENTITY_ID = /^[a-z0-9._-]{1,128}$/;

const secret = (what: string) => z.string().min(16, `${what} must be at least 16 characters`);

/** Claims an identity may not set: they are the gateway's own. */
const RESERVED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scope', 'cnf', 'client_id'];

/** Certificate fields an identity may copy into token claims (`certificateClaims`). */
export const CERTIFICATE_CLAIM_SOURCES = [
  'subject.CN', 'subject.O', 'subject.OU', 'serial', 'sha256', 'spiffeId',
  'san.dns', 'san.uri', 'san.email', 'san.ip',
] as const;

const identity = z
  .object({
    id: z.string().regex(IDENTITY_ID, 'must match [a-z0-9._-]{1,128}'),
    name: z.string().optional(),
    caCertificate: z.string().optional(),
    caCertificateFile: z.string().optional(),
    allowedCommonNames: z.array(z.string().min(1)).optional(),
    allowedSubjectAltNames: z
      .array(
        z
          .string()
          .regex(/^(DNS|URI|SPIFFE|EMAIL|IP):.+$/, 'must be DNS:, URI:, SPIFFE:, EMAIL: or IP: followed by a pattern')
          .superRefine((v, ctx) => {
            if (!v.startsWith('SPIFFE:')) return;
            try {
              compileSpiffePattern(v.slice('SPIFFE:'.length));
            } catch (e) {
              ctx.addIssue({ code: 'custom', message: (e as Error).message });
            }
          }),
      )
      .optional(),
    accessTokenTTL: z.number().int().positive().default(7200),
    accessTokenMaxTTL: z.number().int().positive().default(86400),
    accessTokenNumUsesLimit: z.number().int().min(0).default(0),
    accessTokenTrustedIps: cidrList.default(['0.0.0.0/0', '::/0']),
    loginTrustedIps: cidrList.default(['0.0.0.0/0', '::/0']),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'scope tokens may not contain spaces or quotes')).default([]),
    claims: z
      .record(z.string(), z.unknown())
      .default({})
      .refine((c) => !Object.keys(c).some((k) => RESERVED_CLAIMS.includes(k)), {
        message: `may not set reserved claims (${RESERVED_CLAIMS.join(', ')})`,
      }),
    /** Claim name → certificate field; also forwarded as X-Certgate-Claim-<name> by forward-auth. */
    certificateClaims: z
      .record(z.string(), z.enum(CERTIFICATE_CLAIM_SOURCES))
      .default({})
      .refine((c) => !Object.keys(c).some((k) => RESERVED_CLAIMS.includes(k)), {
        message: `may not set reserved claims (${RESERVED_CLAIMS.join(', ')})`,
      }),
    bindTokenToCertificate: z.boolean().default(false),
    revocation: z
      .object({
        crl: z
          .object({
            fromCertificate: z.boolean().default(false),
            urls: z.array(z.string().url()).default([]),
            files: z.array(z.string()).default([]),
          })
          .strict()
          .optional(),
        ocsp: z.object({ enabled: z.boolean().default(false), responder: z.string().url().optional() }).strict().optional(),
        onUnavailable: z.enum(['failClosed', 'failOpen']).default('failClosed'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.accessTokenTTL > v.accessTokenMaxTTL) {
      ctx.addIssue({ code: 'custom', path: ['accessTokenTTL'], message: 'must not exceed accessTokenMaxTTL' });
    }
    for (const k of Object.keys(v.certificateClaims)) {
      // Claim names become header names (X-Certgate-Claim-<name>) and JSON keys: keep them plain.
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(k)) ctx.addIssue({ code: 'custom', path: ['certificateClaims', k], message: 'claim names match [a-z][a-z0-9_]{0,63}' });
      if (k in v.claims) ctx.addIssue({ code: 'custom', path: ['certificateClaims', k], message: `claim "${k}" is also set in claims` });
    }
    if ((v.caCertificate === undefined) === (v.caCertificateFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['caCertificate'], message: 'exactly one of caCertificate or caCertificateFile is required' });
    }
  });

/** The schema of one identity: the file's `identities[]` entries and the admin API's PUT body alike. */
export const identitySchema = identity;

/**
 * An admin token, or its SHA-256 as `sha256:<64 hex>` so the file need not hold the secret itself
 * (`printf %s "$TOKEN" | sha256sum`).
 */
const adminToken = secret('an admin token').refine((v) => !v.startsWith('sha256:') || /^sha256:[0-9a-fA-F]{64}$/.test(v), {
  message: 'a sha256: admin token must be followed by 64 hex digits',
});

const upstreamAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('jwt'), audience: z.string().min(1), ttl: z.number().int().positive().max(300).default(60) }).strict(),
  z.object({ type: z.literal('header'), name: headerName, value: z.string().min(1) }).strict(),
]);

const route = z
  .object({
    pathPrefix: z.string().regex(/^\/[^?#]*$/, 'must be an absolute path'),
    upstream: z.string().url(),
    requiredScopes: z.array(z.string()).default([]),
    upstreamAuth: upstreamAuth.optional(),
    /** CA bundle (PEM file) to trust for an https upstream instead of the system store. */
    upstreamCaFile: z.string().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        tls: z
          .object({
            port: z.number().int().min(0).max(65535),
            host: z.string().optional(),
            cert: z.string(),
            key: z.string(),
            clientCa: z.string().optional(),
          })
          .strict()
          .optional(),
        /** Per-command Redis timeout in ms; a whole store operation answers 503 within twice this. */
        storeTimeoutMs: z.number().int().positive().default(1000),
        /** Seconds SIGTERM waits for requests in flight before closing what is left. */
        shutdownTimeout: z.number().positive().max(3600).default(10),
        /** node:cluster processes sharing the listeners (`certgate serve --workers N` overrides). */
        workers: z.number().int().min(1).max(256).default(1),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, storeTimeoutMs: 1000, shutdownTimeout: 10, workers: 1 }),
    issuer: z.string().url(),
    audience: z.string().min(1).default('certgate'),
    store: z
      .object({
        url: z.string().default('redis://127.0.0.1:6379'),
        cluster: z.array(z.string()).optional(),
        sentinel: z.object({ name: z.string(), sentinels: z.array(z.string()).min(1) }).strict().optional(),
        /** Redis WAIT after every token, revocation and identity write: replicas that must acknowledge (0 = no WAIT). */
        waitReplicas: z.number().int().min(0).default(0),
        /** How long WAIT may block; default half of server.storeTimeoutMs. */
        waitReplicasTimeoutMs: z.number().int().positive().optional(),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', waitReplicas: 0 }),
    keys: z
      .object({
        dir: z.string().default('./keys'),
        /** What `certgate keys rotate` creates; verification pins each key to its own algorithm. */
        algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
        /** Seconds a new key is in the JWKS before any gateway signs with it. */
        publishBefore: z.number().int().min(0).default(3600),
      })
      .strict()
      .default({ dir: './keys', algorithm: 'ES256', publishBefore: 3600 }),
    trustedProxies: z
      .array(trustedProxy)
      .default([])
      .superRefine((entries, ctx) => {
        for (const o of overlappingProxyEntries(entries)) ctx.addIssue({ code: 'custom', path: [o.second, 'cidrs', o.secondCidr], message: o.message });
      }),
    identities: z.array(identity).default([]),
    admin: z.object({ tokens: z.array(adminToken).default([]) }).strict().default({ tokens: [] }),
    introspection: z
      .object({ clients: z.array(z.object({ id: z.string().min(1), secret: secret('a client secret') }).strict()).default([]) })
      .strict()
      .default({ clients: [] }),
    routes: z.array(route).default([]),
    /** Login and token limits, counted in the store (shared by every gateway); 0 = no limit. */
    limits: z
      .object({
        loginsPerIpPerMinute: z.number().int().min(0).default(600),
        loginsPerIdentityPerMinute: z.number().int().min(0).default(6000),
        outstandingTokensPerIdentity: z.number().int().min(0).default(100_000),
      })
      .strict()
      .default({ loginsPerIpPerMinute: 600, loginsPerIdentityPerMinute: 6000, outstandingTokensPerIdentity: 100_000 }),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({ level: 'info' }),
    /** Allowed clock skew, seconds, when verifying token times. */
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.identities.forEach((id, i) => {
      if (seen.has(id.id)) ctx.addIssue({ code: 'custom', path: ['identities', i, 'id'], message: `duplicate identity id "${id.id}"` });
      seen.add(id.id);
    });
    const memoryWorkers = memoryStoreWorkersProblem(v.server.workers, v.store);
    if (memoryWorkers) ctx.addIssue({ code: 'custom', path: ['server', 'workers'], message: memoryWorkers });
  });

/**
 * The in-memory store lives in one process: with several workers each would count token uses and
 * limits on its own, so a token with N uses would allow N calls per worker. Refused, naming both keys.
 */
export function memoryStoreWorkersProblem(workers: number, store: { url: string; cluster?: unknown; sentinel?: unknown }): string | undefined {
  if (workers <= 1 || store.cluster || store.sentinel || store.url !== 'memory') return undefined;
  return `server.workers is ${workers} but store.url is "memory", which lives in one process: token uses and limits would be counted per worker. Use a redis:// store.url, or 1 worker`;
}

export type RawConfig = z.infer<typeof configSchema>;
export type IdentityConfig = RawConfig['identities'][number];
export type RouteConfig = RawConfig['routes'][number];
