import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import { Agent, request, type Dispatcher } from 'undici';
import { CertgateError, badRequest, tokenRefused } from '../errors.js';
import type { Config } from '../config/load.js';
import type { RouteConfig } from '../config/schema.js';
import { authorizeRequest } from '../http/bearer.js';
import type { Gateway } from '../http/gateway.js';
import { liveOf } from '../live/state.js';
import { upstreamCredential } from './upstream-auth.js';

/** RFC 9110 hop-by-hop headers, never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'host']);

export interface CompiledRoute {
  config: RouteConfig;
  /** Canonical names (see canonicalName) of client headers never forwarded on this route. */
  strip: Set<string>;
  upstream: URL;
  dispatcher: Dispatcher;
}

/**
 * Headers a client must never be able to hand the upstream: the gateway's own identity headers,
 * forwarding metadata (certgate writes its own X-Forwarded-For), and every terminator's
 * client-certificate headers, whether or not this deployment's trustedProxies name them.
 */
const CLIENT_HEADER_PREFIXES = ['x-certgate-', 'x-forwarded-', 'x-amzn-mtls-', 'x-ssl-', 'ssl-client-', 'x-client-cert', 'client-cert', 'cf-client-cert', 'x-arr-clientcert'];
const CLIENT_HEADERS = new Set(['authorization', 'cookie', 'forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip']);

/**
 * The name a header is known by to upstreams that fold `_` into `-` and ignore case (CGI, WSGI,
 * PHP, Rails: both X_Certgate_Identity and X-Certgate-Identity become HTTP_X_CERTGATE_IDENTITY).
 * Every check below compares this form, so an underscore variant of a stripped header is stripped.
 */
const canonicalName = (name: string) => name.toLowerCase().replace(/_/g, '-');

function requestHeaders(ctx: Context, strip: ReadonlySet<string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionTokens = new Set((ctx.get('connection') || '').split(',').map((s) => canonicalName(s.trim())));
  for (const [name, value] of Object.entries(ctx.req.headers as IncomingHttpHeaders)) {
    const canonical = canonicalName(name);
    if (value === undefined || HOP_BY_HOP.has(canonical) || connectionTokens.has(canonical) || strip.has(canonical)) continue;
    if (CLIENT_HEADERS.has(canonical) || CLIENT_HEADER_PREFIXES.some((p) => canonical.startsWith(p))) continue;
    out[name] = value;
  }
  return out;
}

/** `routes:` compiled for matching, longest prefix first. */
export interface CompiledRoutes {
  match(path: string): CompiledRoute | undefined;
}

/**
 * One undici Agent per upstream trust (system store, or the bytes of an upstreamCaFile), shared by
 * every state a reload builds: a request that took the previous state still has a live
 * connection pool, and an unchanged route keeps its warm connections across reloads.
 */
export class DispatcherPool {
  private readonly agents = new Map<string, Agent>();

  for(caFile: string | undefined): Dispatcher {
    const ca = caFile ? readFileSync(caFile) : undefined;
    const key = ca ? ca.toString('base64') : '';
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({ connect: ca ? { ca } : {}, headersTimeout: 30_000, bodyTimeout: 30_000 });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** After the listeners have closed: what is still in flight upstream has lost its client. */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.destroy()));
    this.agents.clear();
  }
}

export function compileRoutes(config: Pick<Config, 'routes' | 'trustedProxies'>, pool: DispatcherPool): CompiledRoutes {
  // Headers the gateway itself interprets never travel on.
  const strip = new Set(config.trustedProxies.flatMap((p) => [p.header, p.chainHeader, p.verifyHeader].filter((h): h is string => !!h)).map(canonicalName));
  const routes: CompiledRoute[] = config.routes.map((rc) => ({
    config: rc,
    // A client's copy (any spelling) of the credential header certgate sets for this upstream.
    strip: rc.upstreamAuth?.type === 'header' ? new Set([...strip, canonicalName(rc.upstreamAuth.name)]) : strip,
    upstream: new URL(rc.upstream),
    dispatcher: pool.for(rc.upstreamCaFile),
  }));
  // Longest prefix first: a more specific route (with stronger scopes) is never shadowed.
  routes.sort((a, b) => b.config.pathPrefix.length - a.config.pathPrefix.length);
  return {
    match: (path) => routes.find((r) => path === r.config.pathPrefix || path.startsWith(r.config.pathPrefix.replace(/\/$/, '') + '/')),
  };
}

/**
 * `routes:` — the follow-up calls a token is for, carried downstream with undici. Each call is a
 * full bearer check that counts as one use, with the route's required scopes checked before the
 * use is taken; the upstream sees certgate's credential, never the caller's token or cert headers.
 * Routes come from the request's live state, so a reload changes them between requests.
 */
export function downstreamRoutes(gw: Gateway) {
  return async (ctx: Context, next: Next) => {
    const live = liveOf(ctx);
    const route = live.routes.match(ctx.path);
    if (!route) return next();
    // Matched on the raw path, so the path must not be able to leave the route afterwards.
    assertNoTraversal(ctx.path);
    const { record, caller } = await authorizeRequest(ctx, gw, true, route.config.requiredScopes);
    // The bearer check refused tokens whose identity is no longer configured, reading the newest
    // state; this request's own snapshot may predate an identity's arrival.
    const identity = live.identityById.get(record.identityId);
    if (!identity) throw tokenRefused('token_unknown', 'the identity of this token is not configured');
    const headers = requestHeaders(ctx, route.strip);
    const cred = await upstreamCredential(route.config, record, identity, gw.keys, live.config.issuer, gw.clock.now());
    if (cred) headers[cred[0]] = cred[1];
    headers['x-forwarded-for'] = caller.clientIp;
    headers['x-certgate-identity'] = record.identityId;
    const base = route.upstream.pathname.replace(/\/$/, '');
    const target = new URL(route.upstream.origin + base + ctx.path + (ctx.querystring ? `?${ctx.querystring}` : ''));
    if (target.pathname !== base + ctx.path) throw badRequest('invalid_path', 'the request path is not allowed');
    const hasBody = !['GET', 'HEAD'].includes(ctx.method);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, {
        method: ctx.method as Dispatcher.HttpMethod,
        headers,
        body: hasBody ? ctx.req : undefined,
        dispatcher: route.dispatcher,
      });
    } catch (e) {
      gw.log.warn({ event: 'upstream_error', route: route.config.pathPrefix, err: (e as Error).message }, 'upstream unreachable');
      throw new CertgateError('upstream_unavailable', 502, 'the upstream service is unavailable');
    }
    ctx.status = res.statusCode;
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'content-length') ctx.set(name, value as string | string[]);
    }
    ctx.body = res.body;
  };
}

/** Layers of percent-encoding a path is followed through; a path still changing after them is refused. */
const MAX_DECODE_ROUNDS = 4;

/** One round of percent-decoding that never fails: each `%XX` becomes its byte, anything else stays. */
const percentDecode = (s: string) => s.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/**
 * Dot segments (also percent-encoded, also with `;` parameters), encoded or raw backslashes,
 * encoded slashes, empty segments — and overlong UTF-8 (`%c0%ae` is `.` to a lenient decoder),
 * which is never valid UTF-8 and so never part of a legitimate path.
 */
function escapesItsRoute(layer: string): boolean {
  if (/%2f|%5c|\\|%c[01]|%e0%[89]/i.test(layer) || layer.includes('//')) return true;
  return layer.split('/').some((raw) => {
    const bare = percentDecode(raw).split(';')[0];
    return bare === '.' || bare === '..';
  });
}

/**
 * Refuses paths that a URL parser or the upstream would resolve to somewhere else than the route
 * they matched: see escapesItsRoute. Checked on the path as received and on every further layer
 * of percent-decoding, since an upstream (or a proxy in front of it) that decodes once more turns
 * `%252e%252e` into `..` and `%252f` into `/`. A path whose encoding is nested deeper than
 * MAX_DECODE_ROUNDS is refused too. A literal `%` (`%25` not followed by hex) is fine.
 */
function assertNoTraversal(path: string): void {
  const refuse = () => badRequest('invalid_path', 'the request path is not allowed');
  try {
    decodeURIComponent(path);
  } catch {
    throw refuse();
  }
  let layer = path;
  for (let round = 0; ; round++) {
    if (escapesItsRoute(layer)) throw refuse();
    const next = percentDecode(layer);
    if (next === layer) return;
    if (round + 1 >= MAX_DECODE_ROUNDS) throw refuse();
    layer = next;
  }
}
