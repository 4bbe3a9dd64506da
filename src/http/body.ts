import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type { z } from 'zod';
import { CertgateError, badRequest } from '../errors.js';

/** Bodies of the gateway's own endpoints are tiny; anything larger is refused unread. */
const MAX_BODY_BYTES = 16 * 1024;

/** What reading a body needs of a request: Koa's context, or a fast path's view (src/http/fast-paths.ts). */
export type BodySource = { req: IncomingMessage };

/**
 * The body as text, at most `maxBytes`. Read with the stream's own events rather than `for await`:
 * the async iterator costs a promise and a tick per chunk plus its setup, a few µs of every login
 * (measured with --cpu-prof under `npm run bench`), for bodies that arrive in one chunk.
 */
function readRaw(from: BodySource, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const req = from.req;
  const tooLarge = () => new CertgateError('body_too_large', 413, `request bodies are limited to ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length'] || 0);
  if (declared > maxBytes) return Promise.reject(tooLarge());
  // Already read to its end (nothing will be emitted): an empty body, as iterating it would give.
  if (req.readableEnded) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      done();
      // As leaving a `for await` early does: the rest of the body is not read.
      req.destroy();
      reject(tooLarge());
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    // The client went away before its body arrived (an 'error' such as ECONNRESET, or 'close'
    // before 'end'): a refusal of an incomplete body, which nobody will receive — not a gateway
    // failure to log as one.
    const onGone = () => {
      done();
      reject(badRequest('invalid_body', 'the request body did not arrive in full'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

/** A JSON object body; an empty body reads as `{}`. */
export async function readJsonObject(from: BodySource, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const text = await readRaw(from, maxBytes);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'the request body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('invalid_body', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** RFC 7662 clients send application/x-www-form-urlencoded; JSON is accepted too. */
export async function readFormOrJson(ctx: Context): Promise<Record<string, unknown>> {
  if (ctx.is('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(await readRaw(ctx)));
  }
  return readJsonObject(ctx);
}

/**
 * A zod refusal as the contract's 400. Unknown fields (on a strict schema) are reported first, as
 * `invalid_body`; then the code of the first issue that names one (`params: {code}` on a custom
 * issue; whole-body issues first); else `invalid_body` with every issue in the message.
 */
export function bodyRefusal(error: z.ZodError): CertgateError {
  const codeOf = (i: z.core.$ZodIssue) => (i.code === 'custom' && typeof i.params?.code === 'string' ? (i.params.code as string) : undefined);
  const text = (i: z.core.$ZodIssue) => (i.path.length && !i.message.startsWith('"') ? `${i.path.join('.')}: ${i.message}` : i.message);
  const unknown = error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown) return badRequest('invalid_body', text(unknown));
  // Whole-body issues (which form of body) before field issues, as the hand-written checks did.
  const coded = error.issues.find((i) => codeOf(i) !== undefined && i.path.length === 0) ?? error.issues.find((i) => codeOf(i) !== undefined);
  if (coded) return badRequest(codeOf(coded)!, text(coded));
  return badRequest('invalid_body', error.issues.map(text).join('; '));
}

/** Validates an already-read body with one of the request schemas (src/http/api/schemas.ts). */
export function validateBody<S extends z.ZodType>(body: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw bodyRefusal(parsed.error);
  return parsed.data;
}

/** The JSON object body of a request, validated with its schema: 400 `invalid_json` / `invalid_body` / the schema's code. */
export async function parseBody<S extends z.ZodType>(from: BodySource, schema: S, maxBytes = MAX_BODY_BYTES): Promise<z.output<S>> {
  return validateBody(await readJsonObject(from, maxBytes), schema);
}

/** As parseBody, for a form-encoded or JSON body (RFC 7662 introspection). */
export async function parseFormOrJsonBody<S extends z.ZodType>(ctx: Context, schema: S): Promise<z.output<S>> {
  return validateBody(await readFormOrJson(ctx), schema);
}
