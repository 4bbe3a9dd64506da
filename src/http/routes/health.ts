import Router from '@koa/router';
import type { Gateway } from '../gateway.js';

export function healthRoutes(gw: Gateway): Router {
  const r = new Router();
  r.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  // Ready only while the store answers: a load balancer then drains a gateway that cannot check tokens.
  r.get('/readyz', async (ctx) => {
    await gw.store.ping();
    ctx.body = { status: 'ready', store: gw.store.kind };
  });
  r.get('/metrics', async (ctx) => {
    ctx.type = gw.metrics.registry.contentType;
    ctx.body = await gw.metrics.registry.metrics();
  });
  return r;
}
