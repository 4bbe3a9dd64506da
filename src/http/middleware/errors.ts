import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { isCertgateError } from '../../errors.js';

/**
 * Outermost middleware: a request id for every answer, and the contract's error shape
 * `{statusCode, error, message, reqId}` for every refusal. Anything that is not a CertgateError
 * is a bug: it is logged (without request headers) and answered as a bare 500.
 */
export function errorHandler(log: Logger) {
  return async (ctx: Context, next: Next) => {
    const reqId = randomUUID();
    ctx.state.reqId = reqId;
    ctx.set('X-Request-Id', reqId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { statusCode: 404, error: 'not_found', message: 'no such endpoint', reqId };
      }
    } catch (e) {
      if (isCertgateError(e)) {
        ctx.status = e.status;
        for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
        ctx.body = { statusCode: e.status, error: e.code, message: e.message, reqId };
        return;
      }
      const status = (e as { status?: number; expose?: boolean }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        // Koa/http-errors client errors (e.g. a malformed URL): still the contract's shape.
        ctx.status = status;
        ctx.body = { statusCode: status, error: 'bad_request', message: 'the request is malformed', reqId };
        return;
      }
      log.error({ reqId, err: { message: (e as Error)?.message, stack: (e as Error)?.stack } }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { statusCode: 500, error: 'internal_error', message: 'internal error', reqId };
    }
  };
}
