import { DEFAULT_CRL_MAX_BYTES, DEFAULT_CRL_TIMEOUT_MS, type CrlFetchOptions } from './fetch.js';
import { allowedUrl, boundedRequest, dispatcherFor, withTimeBudget } from './http.js';

/**
 * The I/O side of OCSP: POST one DER OCSPRequest (application/ocsp-request) to a responder and
 * return the response bytes. Plain http only (RFC 6960 responders answer over http; the answer is
 * signed), no redirects (a POST is not replayed elsewhere), and the CRL fetcher's bounds: one time
 * budget for connect + headers + body, and a size cap. Errors carry a short reason only (status,
 * size, timeout, errno) — never the body.
 */

export type OcspFetchOptions = Pick<CrlFetchOptions, 'timeoutMs' | 'maxBytes' | 'dispatcher'>;

export interface OcspFetcher {
  post(url: string, body: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Only http: responders are asked (https:, ldap: … are refused). */
export function httpOcspUrl(raw: string): URL {
  return allowedUrl(raw, ['http:'], (p) => `only http OCSP responders are supported, not ${p}`);
}

export function createOcspFetcher(opts: OcspFetchOptions = {}): OcspFetcher {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CRL_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_CRL_MAX_BYTES;
  const { dispatcher, close } = dispatcherFor(opts.dispatcher, timeoutMs);
  const headers = { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' };

  return {
    async post(raw, body) {
      const url = httpOcspUrl(raw);
      return withTimeBudget(timeoutMs, async (signal) => {
        // No redirect statuses: a 3xx is an error like any other non-200 answer.
        const r = await boundedRequest(url, { method: 'POST', headers, body: Buffer.from(body), dispatcher, signal, timeoutMs, maxBytes });
        if (!('bytes' in r)) throw new Error('unexpected redirect');
        return r.bytes;
      });
    },
    close,
  };
}
