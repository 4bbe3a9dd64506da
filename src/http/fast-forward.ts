import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { authorizeRequest } from './bearer.js';
import type { Gateway } from './gateway.js';
import { errorAnswer } from './middleware/errors.js';
import { FORWARD_PATH, identityHeaders } from './routes/auth.js';

export { FORWARD_PATH };
const FORWARD_WITH_QUERY = `${FORWARD_PATH}?`;

/**
 * Forward-auth answered in front of Koa. It is the hottest call by far, and Koa's per-request
 * context objects plus matching the path against every router cost more CPU than the check
 * itself (one JWT cache lookup and one Lua call): measured with `npm run bench`, see
 * docs/performance.md. The answer is the same as through Koa — the same bearer check
 * (authorizeRequest), X-Request-Id, identity headers and 204, refusals rendered by the same
 * errorAnswer as errorHandler — so only the exact path is taken here, for every method but HEAD;
 * HEAD and every other spelling (other case, absolute-form URL) go through Koa and the router to
 * the same checks (longer paths are Envoy ext_authz's, answered 200 there). Middleware added to
 * the Koa app does not see these requests: what must see every request belongs here as well
 * (today: the live-state snapshot and `Connection: close` while draining, both below).
 */
export function withFastForward(gw: Gateway, koa: RequestListener): RequestListener {
  return (req, res) => {
    const url = req.url ?? '';
    const exact = url === FORWARD_PATH || (url.startsWith(FORWARD_WITH_QUERY) && !url.includes('#'));
    if (!exact || req.method === 'HEAD') return koa(req, res);
    void forward(gw, req, res);
  };
}

async function forward(gw: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reqId = randomUUID();
  res.setHeader('X-Request-Id', reqId);
  // As the app's own middleware (src/http/app.ts) does for every Koa request: the live state this
  // request uses from start to end, and `Connection: close` while draining.
  const state = { live: gw.live.current };
  if (gw.lifecycle.draining) res.setHeader('Connection', 'close');
  try {
    const { record } = await authorizeRequest({ req, path: FORWARD_PATH, state }, gw, true);
    for (const [name, value] of identityHeaders(record)) res.setHeader(name, value);
    res.statusCode = 204;
    res.end();
  } catch (e) {
    const answer = errorAnswer(e, reqId, gw.log);
    const body = JSON.stringify(answer.body);
    res.statusCode = answer.status;
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }
}
