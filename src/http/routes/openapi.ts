import Router from '@koa/router';
import { buildOpenApiDocument } from '../api/openapi.js';
import { liveOf, type LiveState } from '../../live/state.js';

/** Built once per live state: a reload that changes `routes:` changes the document. */
const documents = new WeakMap<LiveState, Record<string, unknown>>();

/** `GET /openapi.json`: the OpenAPI 3.1 document of this gateway, its configured routes included. No auth. */
export function openApiRoutes(): Router {
  const r = new Router();
  r.get('/openapi.json', (ctx) => {
    const live = liveOf(ctx);
    let doc = documents.get(live);
    if (!doc) {
      doc = buildOpenApiDocument({ issuer: live.config.issuer, routes: live.config.routes });
      documents.set(live, doc);
    }
    ctx.body = doc;
  });
  return r;
}
