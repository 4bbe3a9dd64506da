import type { Context } from 'koa';
import { CertgateError, badRequest } from '../errors.js';

/** Bodies of the gateway's own endpoints are tiny; anything larger is refused unread. */
const MAX_BODY_BYTES = 16 * 1024;

async function readRaw(ctx: Context, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new CertgateError('body_too_large', 413, `request bodies are limited to ${maxBytes} bytes`);
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON object body; an empty body reads as `{}`. */
export async function readJsonObject(ctx: Context, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const text = await readRaw(ctx, maxBytes);
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

export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw badRequest('invalid_body', `"${key}" must be a non-empty string`);
  return v;
}

export function requiredString(body: Record<string, unknown>, key: string): string {
  const v = optionalString(body, key);
  if (v === undefined) throw badRequest('invalid_body', `"${key}" is required`);
  return v;
}
