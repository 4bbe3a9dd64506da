import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { authorizeRequest } from './bearer.js';
import type { RequestView } from './caller.js';
import type { Gateway } from './gateway.js';
import { LOGIN_PATH, loginHandler } from './login.js';
import { errorAnswer } from './middleware/errors.js';
import { FORWARD_PATH, identityHeaders, NO_STORE_HEADERS } from './routes/auth.js';

export { FORWARD_PATH, LOGIN_PATH };

/**
 * The two hottest calls — forward-auth and the certificate login — answered in front of Koa.
 * Koa's per-request context objects, its middleware chain and matching the path against every
 * router cost more CPU than forward-auth's check itself (one JWT cache lookup, one Lua call) and
 * a good part of a warm login: measured with `npm run bench`, see docs/performance.md. The
 * answers are the same as through Koa: the same handlers (authorizeRequest + identityHeaders;
 * loginHandler), X-Request-Id, the same headers, and refusals rendered by the same errorAnswer as
 * errorHandler (test/http/fast-paths.test.ts compares both ways). Only the exact path (with or
 * without a query) is taken here: forward-auth for every method but HEAD, login for POST; every
 * other spelling (trailing slash, other case, absolute-form URL) goes through Koa and its router
 * to the same handlers. Middleware added to the Koa app does not see these requests: what must see
 * every request belongs here as well (today: the live-state snapshot and `Connection: close`
 * while draining, both in `view` below).
 */
export function withFastPaths(gw: Gateway, koa: RequestListener): RequestListener {
  const login = loginHandler(gw);
  return (req, res) => {
    const url = req.url ?? '';
    if (isExact(url, FORWARD_PATH)) {
      if (req.method !== 'HEAD') return void forward(gw, req, res);
    } else if (isExact(url, LOGIN_PATH)) {
      if (req.method === 'POST') return void answerLogin(gw, login, req, res);
    }
    return koa(req, res);
  };
}

function isExact(url: string, path: string): boolean {
  if (!url.startsWith(path)) return false;
  return url.length === path.length || (url.charCodeAt(path.length) === 63 /* ? */ && !url.includes('#'));
}

/** As the app's own middleware (src/http/app.ts): X-Request-Id, the live state, draining. */
function view(gw: Gateway, req: IncomingMessage, res: ServerResponse, path: string): RequestView & { reqId: string } {
  const reqId = randomUUID();
  res.setHeader('X-Request-Id', reqId);
  if (gw.lifecycle.draining) res.setHeader('Connection', 'close');
  return { req, path, state: { live: gw.live.current }, reqId };
}

async function forward(gw: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const v = view(gw, req, res, FORWARD_PATH);
  try {
    const { record } = await authorizeRequest(v, gw, true);
    for (const [name, value] of identityHeaders(record)) res.setHeader(name, value);
    res.statusCode = 204;
    res.end();
  } catch (e) {
    refuse(gw, v.reqId, res, e);
  }
}

async function answerLogin(gw: Gateway, login: ReturnType<typeof loginHandler>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const v = view(gw, req, res, LOGIN_PATH);
  for (const [name, value] of NO_STORE_HEADERS) res.setHeader(name, value);
  try {
    sendJson(res, 200, await login(v));
  } catch (e) {
    refuse(gw, v.reqId, res, e);
  }
}

function refuse(gw: Gateway, reqId: string, res: ServerResponse, e: unknown): void {
  const answer = errorAnswer(e, reqId, gw.log);
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  sendJson(res, answer.status, answer.body);
}

/** As Koa answers an object body. */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
