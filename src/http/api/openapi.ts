import { z } from 'zod';
import type { RouteConfig } from '../../config/schema.js';
import { DOWNSTREAM_ERRORS, ERROR_STATUS, OPERATIONS, type ErrorCode, type Operation, type Security } from './operations.js';
import { errorResponse } from './schemas.js';

type Json = Record<string, unknown>;

/** The methods a path item lists for an any-method route (`x-any-method: true` says the rest). */
export const ANY_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const SECURITY_SCHEMES: Record<Exclude<Security, 'none'>, Json> = {
  clientCertificate: {
    type: 'mutualTLS',
    description:
      'A client certificate: from the TLS handshake on the direct mTLS listener (server.tls), or from the certificate header of a terminator ' +
      'whose address is in trustedProxies. Identities decide which certificates may log in.',
  },
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from login or renew.' },
  adminBearer: { type: 'http', scheme: 'bearer', description: 'One of admin.tokens.' },
  introspectionBasic: { type: 'http', scheme: 'basic', description: 'An introspection client: introspection.clients id and secret.' },
};

/** Code → status of the refusals any request can meet: Node's HTTP parser, no route, wrong method. */
export const ANY_REQUEST_ERRORS: Record<string, number> = {
  malformed_request: 400,
  bad_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  request_too_large: 413,
  request_header_too_large: 431,
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request', 401: 'Authentication failed', 403: 'Not allowed', 404: 'Not found', 409: 'Conflict',
  413: 'Body too large', 429: 'Too many requests', 431: 'Header too large', 502: 'Upstream unavailable', 503: 'Unavailable',
};

/**
 * zod → JSON Schema (2020-12, OpenAPI 3.1's dialect). Schemas with a `meta({id})` land in
 * components.schemas and are referenced; requests are described as accepted (input), answers as sent.
 */
class SchemaCollector {
  readonly components: Record<string, Json> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const out = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
    const defs = (out.$defs ?? {}) as Record<string, Json>;
    delete out.$defs;
    delete out.$schema;
    for (const [id, def] of Object.entries(defs)) this.components[id] = rewriteRefs(def) as Json;
    return rewriteRefs(out) as Json;
  }
}

/** `#/$defs/X` (zod's) → `#/components/schemas/X` (OpenAPI's). */
function rewriteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' ? x.replace(/^#\/\$defs\//, '#/components/schemas/') : rewriteRefs(x)]),
  );
}

function pathParameters(path: string): Json[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: m[1] === 'id' ? 'An identity id: [a-z0-9._-]{1,128}.' : 'The rest of the path; may contain slashes.',
  }));
}

function errorResponses(codes: readonly ErrorCode[]): Record<string, Json> {
  const byStatus = new Map<number, Set<string>>();
  for (const code of codes) {
    const status = ERROR_STATUS[code];
    if (!byStatus.has(status)) byStatus.set(status, new Set());
    byStatus.get(status)!.add(code);
  }
  const out: Record<string, Json> = {};
  for (const status of [...byStatus.keys()].sort()) {
    const list = [...byStatus.get(status)!];
    out[String(status)] = {
      description: `${STATUS_TEXT[status] ?? 'Refused'}: \`error\` is one of ${list.map((c) => `\`${c}\``).join(', ')}.`,
      ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } } } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      'x-error-codes': list,
    };
  }
  return out;
}

function operationObject(op: Operation, method: string, schemas: SchemaCollector): Json {
  const responses: Record<string, Json> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
      ...(r.schema ? { content: { 'application/json': { schema: schemas.convert(r.schema, 'output') } } } : {}),
      ...(r.text ? { content: { [r.text]: { schema: { type: 'string' } } } } : {}),
    };
  }
  Object.assign(responses, errorResponses(op.errors));
  const out: Json = {
    operationId: op.method === 'any' ? `${op.operationId}${method[0]!.toUpperCase()}${method.slice(1)}` : op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    security: op.security === 'none' ? [] : [{ [op.security]: [] }],
  };
  const params = pathParameters(op.path);
  if (params.length) out.parameters = params;
  if (op.request && method !== 'get') {
    let schema = schemas.convert(op.request.schema, 'input');
    if (op.request.adjust) schema = op.request.adjust(schema);
    const media = { schema, example: op.request.example };
    out.requestBody = {
      required: op.request.required,
      content: { 'application/json': media, ...(op.request.form ? { 'application/x-www-form-urlencoded': media } : {}) },
    };
  }
  out.responses = responses;
  out['x-error-codes'] = [...new Set(op.errors)];
  return out;
}

/** A configured route's paths: the prefix itself and everything below it. */
export function routePaths(pathPrefix: string): string[] {
  const base = pathPrefix.replace(/\/$/, '');
  return [...new Set([pathPrefix, `${base}/{path}`])];
}

function downstreamOperation(route: RouteConfig, path: string, method: string, index: number): Json {
  const scopes = route.requiredScopes.length ? ` Requires the scopes ${route.requiredScopes.map((x) => `\`${x}\``).join(', ')}.` : '';
  const params = path.endsWith('/{path}') ? [{ name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'The rest of the path; may contain slashes.' }] : [];
  return {
    operationId: `route${index}${path.endsWith('/{path}') ? 'Sub' : ''}${method[0]!.toUpperCase()}${method.slice(1)}`,
    summary: `Downstream route ${route.pathPrefix}`,
    description: `Carried to the configured upstream with certgate's own credential; each call counts as one use of the token.${scopes}`,
    tags: ['routes'],
    security: [{ bearer: [] }],
    ...(params.length ? { parameters: params } : {}),
    responses: { default: { description: "The upstream's answer." }, ...errorResponses(DOWNSTREAM_ERRORS) },
    'x-error-codes': [...new Set(DOWNSTREAM_ERRORS)],
  };
}

export interface OpenApiSource {
  /** The configured issuer: the gateway's public URL (servers[0]). */
  issuer?: string;
  /** The configured downstream `routes:`. */
  routes: readonly RouteConfig[];
}

/** The OpenAPI 3.1 document of everything the gateway serves for this configuration. */
export function buildOpenApiDocument(source: OpenApiSource): Json {
  const schemas = new SchemaCollector();
  schemas.convert(errorResponse, 'output'); // registers components.schemas.Error, which every refusal references
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    const item = (paths[op.path] ??= {});
    if (op.method === 'any') {
      item['x-any-method'] = true;
      for (const m of ANY_METHODS) item[m] = operationObject(op, m, schemas);
    } else {
      item[op.method] = operationObject(op, op.method, schemas);
    }
  }
  source.routes.forEach((route, i) => {
    for (const path of routePaths(route.pathPrefix)) {
      // A path the gateway's own routers answer is theirs, not the route's; a repeated prefix
      // is served by its first entry.
      if (paths[path]) continue;
      const item: Json = { 'x-any-method': true };
      for (const m of ANY_METHODS) item[m] = downstreamOperation(route, path, m, i);
      paths[path] = item;
    }
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'certgate',
      version: '1',
      description:
        'mTLS identity-exchange gateway: a client certificate in, a short-lived access token out. Every refusal is JSON ' +
        '`{statusCode, error, message, reqId}` with a stable `error` code; each response lists its codes in `x-error-codes`.',
    },
    ...(source.issuer ? { servers: [{ url: source.issuer }] } : {}),
    paths,
    // Answers that can meet any request, before or outside routing (src/http/client-error.ts, the router).
    'x-any-request-error-codes': ANY_REQUEST_ERRORS,
    components: { schemas: schemas.components, securitySchemes: SECURITY_SCHEMES },
  };
}
