import Router from '@koa/router';
import { CertgateError } from '../../errors.js';
import type { Gateway } from '../gateway.js';

export function healthRoutes(gw: Gateway): Router {
  const r = new Router();
  r.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  // Ready only while the store answers: a load balancer then drains a gateway that cannot check tokens.
  // Not ready while draining either (SIGTERM): the balancer stops sending before the listener goes.
  r.get('/readyz', async (ctx) => {
    if (gw.lifecycle.draining) throw new CertgateError('shutting_down', 503, 'the gateway is shutting down');
    try {
      await gw.store.ping();
    } catch (e) {
      gw.health.failed(e);
      throw e;
    }
    gw.health.answered();
    ctx.body = { status: 'ready', store: gw.store.kind };
  });
  r.get('/metrics', async (ctx) => {
    let text: string;
    try {
      text = await gw.metrics.exposition();
    } catch (e) {
      // A worker's scrape gathers every worker's counters through the primary; one that does
      // not answer in time makes the scrape fail rather than under-count.
      throw new CertgateError('metrics_unavailable', 503, `the gateway's metrics could not be gathered: ${(e as Error).message}`);
    }
    ctx.type = gw.metrics.registry.contentType;
    ctx.body = text;
  });
  return r;
}
