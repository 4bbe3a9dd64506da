import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { isCertgateError } from '../../errors.js';

const EMPTY_ANSWERS: Record<number, [string, string]> = {
  404: ['not_found', 'no such endpoint'],
  405: ['method_not_allowed', 'this endpoint does not accept that method'],
  501: ['not_implemented', 'this method is not implemented'],
};

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
      // Router answers without a body (no route, wrong method): still the contract's shape.
      const status = ctx.status;
      if (status >= 400 && (ctx.body === undefined || ctx.body === null)) {
        const [error, message] = EMPTY_ANSWERS[status] ?? ['error', 'the request was refused'];
        ctx.status = status;
        ctx.body = { statusCode: status, error, message, reqId };
      }
    } catch (e) {
      const answer = errorAnswer(e, reqId, log);
      ctx.status = answer.status;
      for (const [k, v] of Object.entries(answer.headers)) ctx.set(k, v);
      ctx.body = answer.body;
    }
  };
}

/**
 * The answer to a thrown error, shared by errorHandler and the forward fast path
 * (src/http/fast-paths.ts) so both render refusals identically.
 */
export function errorAnswer(e: unknown, reqId: string, log: Logger): { status: number; headers: Record<string, string>; body: ErrorBody } {
  if (isCertgateError(e)) {
    return { status: e.status, headers: e.headers, body: { statusCode: e.status, error: e.code, message: e.message, reqId } };
  }
  const status = (e as { status?: number; expose?: boolean })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Koa/http-errors client errors (e.g. a malformed URL): still the contract's shape.
    return { status, headers: {}, body: { statusCode: status, error: 'bad_request', message: 'the request is malformed', reqId } };
  }
  log.error({ reqId, err: { message: (e as Error)?.message, stack: (e as Error)?.stack } }, 'unhandled error');
  return { status: 500, headers: {}, body: { statusCode: 500, error: 'internal_error', message: 'internal error', reqId } };
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  reqId: string;
}
