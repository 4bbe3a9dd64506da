/**
 * Every refusal certgate makes carries a stable machine-readable `code` and an HTTP status.
 * Modules throw `CertgateError`; the HTTP layer renders it as `{statusCode, error, message, reqId}`.
 * Anything else that escapes is a bug and is rendered as a generic 500 without details.
 */
export class CertgateError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers, e.g. WWW-Authenticate for token refusals. */
  readonly headers: Record<string, string>;

  constructor(code: string, status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'CertgateError';
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}

export const isCertgateError = (e: unknown): e is CertgateError => e instanceof CertgateError;

/** 400: the request itself is malformed. */
export const badRequest = (code: string, message: string) => new CertgateError(code, 400, message);
/** 401: certificate authentication failed. */
export const certRefused = (code: string, message: string) => new CertgateError(code, 401, message);
/** 401 with the RFC 6750 challenge: the bearer token is not acceptable. */
export const tokenRefused = (code: string, message: string) =>
  new CertgateError(code, 401, message, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
/** 403: authenticated, but not allowed (IP, scope). */
export const forbidden = (code: string, message: string) => new CertgateError(code, 403, message);
/** 503: the token store cannot be reached; never answered with a fail-open. */
export const storeUnavailable = (message = 'token store unavailable') =>
  new CertgateError('store_unavailable', 503, message);
/** 429 with `Retry-After` (whole seconds, at least 1): a login limit or a token quota is reached. */
export const tooManyRequests = (code: 'rate_limited' | 'token_quota_exceeded', message: string, retryAfterMs: number) =>
  new CertgateError(code, 429, message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
/** 503: the store answers but is configured so that it may lose certgate's keys (see RedisTokenStore). */
export const storeMisconfigured = (message: string) => new CertgateError('store_misconfigured', 503, message);
