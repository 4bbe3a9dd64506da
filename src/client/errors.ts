/**
 * A login or renewal that failed: certgate's refusal (`status` + its stable `code`, e.g.
 * `common_name_not_allowed`) or a network error (`code` = the errno, e.g. ECONNREFUSED).
 */
export class CertgateClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
    readonly reqId?: string,
    /** certgate's JSON answer `{statusCode, error, message, reqId}`, when there was one. */
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'CertgateClientError';
  }
}

/** Network errors worth another attempt; TLS verification failures are not among them. */
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ENOTFOUND']);
/** 503 store_unavailable; 502/504 when a load balancer cannot reach certgate; 429 rate_limited. */
const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);

export function isTransient(e: unknown): boolean {
  if (!(e instanceof CertgateClientError)) return false;
  return e.status !== undefined ? TRANSIENT_STATUS.has(e.status) : TRANSIENT_ERRNO.has(e.code ?? '');
}
