import { Agent, request, type Dispatcher } from 'undici';
import { DEFAULT_CRL_MAX_BYTES, DEFAULT_CRL_TIMEOUT_MS, type CrlFetchOptions } from './fetch.js';

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
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error('not a valid URL');
  }
  if (u.protocol !== 'http:') throw new Error(`only http OCSP responders are supported, not ${u.protocol}`);
  return u;
}

export function createOcspFetcher(opts: OcspFetchOptions = {}): OcspFetcher {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CRL_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_CRL_MAX_BYTES;
  const own = opts.dispatcher ? undefined : new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000, connections: 4 });
  const dispatcher = opts.dispatcher ?? own!;

  return {
    async post(raw, body) {
      const url = httpOcspUrl(raw);
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher,
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
          body: Buffer.from(body),
        });
        const stream = res.body;
        try {
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
          const chunks: Buffer[] = [];
          let total = 0;
          for await (const chunk of stream) {
            total += (chunk as Buffer).length;
            if (total > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
            chunks.push(chunk as Buffer);
          }
          return new Uint8Array(Buffer.concat(chunks, total));
        } finally {
          if (!stream.destroyed) {
            stream.on('error', () => {});
            stream.destroy();
          }
        }
      } catch (e) {
        if (signal.aborted) throw new Error(`timed out after ${timeoutMs} ms`);
        throw new Error(shortReason(e));
      }
    },
    async close() {
      await own?.close();
    },
  };
}

function shortReason(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } };
  const msg = err?.message ?? String(e);
  const code = err?.code ?? err?.cause?.code;
  return (code && !msg.includes(code) ? `${code}: ${msg}` : msg).replace(/\s+/g, ' ').slice(0, 200);
}
