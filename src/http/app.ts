import Koa from 'koa';
import { downstreamRoutes } from '../downstream/proxy.js';
import type { Gateway } from './gateway.js';
import { errorHandler } from './middleware/errors.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { introspectRoutes } from './routes/introspect.js';
import { oidcRoutes } from './routes/oidc.js';
import { openApiRoutes } from './routes/openapi.js';

/** The Koa application: a small core of middleware and one router per route group. */
export function createApp(gw: Gateway): Koa {
  const app = new Koa();
  app.silent = true; // errors are rendered and logged by errorHandler, never printed with headers
  app.use(errorHandler(gw.log));
  app.use(async (ctx, next) => {
    // The live state this request uses from start to end, whatever a reload swaps meanwhile.
    // (src/http/fast-paths.ts does the same for the forward-auth and login requests it answers.)
    ctx.state.live = gw.live.current;
    // While draining, every answer ends its connection: keep-alive clients move to another gateway.
    if (gw.lifecycle.draining) ctx.set('Connection', 'close');
    await next();
  });
  for (const router of [healthRoutes(gw), oidcRoutes(gw), authRoutes(gw), introspectRoutes(gw), adminRoutes(gw), openApiRoutes()]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use(downstreamRoutes(gw));
  return app;
}
