import { open, stat } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';

/**
 * The I/O side of CRL checking: bytes of a CRL from an http(s) URL or a file. Both are bounded
 * (time and size) so a slow or hostile distribution point cannot hold a login or the heap.
 * Errors carry a short reason only (status, size, timeout, errno) — never the body.
 */

export interface CrlFetchOptions {
  /** Whole-request budget: connect + headers + body. */
  timeoutMs?: number;
  /** Largest CRL accepted, bytes. */
  maxBytes?: number;
  /** Redirects followed (each hop must stay http/https). */
  maxRedirects?: number;
  /** Injected for tests; by default a private keep-alive Agent. */
  dispatcher?: Dispatcher;
}

export const DEFAULT_CRL_TIMEOUT_MS = 5_000;
export const DEFAULT_CRL_MAX_BYTES = 16 * 1024 * 1024;

export interface CrlFetcher {
  fetch(url: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Only http: and https: distribution points are fetched (ldap:, file: … are refused). */
export function httpCrlUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error('not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`only http and https CRL URLs are supported, not ${u.protocol}`);
  return u;
}

export function createCrlFetcher(opts: CrlFetchOptions = {}): CrlFetcher {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CRL_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_CRL_MAX_BYTES;
  const maxRedirects = opts.maxRedirects ?? 3;
  const own = opts.dispatcher ? undefined : new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000, connections: 4 });
  const dispatcher = opts.dispatcher ?? own!;

  async function fetchOnce(url: URL, signal: AbortSignal): Promise<{ redirect: URL } | { bytes: Uint8Array }> {
    const res = await request(url, {
      method: 'GET',
      dispatcher,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { accept: 'application/pkix-crl, application/x-pem-file, */*' },
    });
    const body = res.body;
    try {
      if (REDIRECTS.has(res.statusCode)) {
        const loc = res.headers.location;
        if (typeof loc !== 'string' || loc === '') throw new Error(`HTTP ${res.statusCode} without a Location`);
        return { redirect: httpCrlUrl(new URL(loc, url).href) };
      }
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of body) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
      return { bytes: new Uint8Array(Buffer.concat(chunks, total)) };
    } finally {
      // Drops whatever is left of the body (and the connection, if mid-body); undici reports that
      // as an AbortError on the stream, which is expected here.
      if (!body.destroyed) {
        body.on('error', () => {});
        body.destroy();
      }
    }
  }

  return {
    async fetch(raw: string): Promise<Uint8Array> {
      let url = httpCrlUrl(raw);
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        for (let hop = 0; ; hop++) {
          const r = await fetchOnce(url, signal);
          if ('bytes' in r) return r.bytes;
          if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects`);
          url = r.redirect;
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

/** A bounded read of a CRL file. */
export async function readCrlFileBounded(path: string, maxBytes = DEFAULT_CRL_MAX_BYTES): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return new Uint8Array(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** mtime and size identify a file version for the cache (an atomic rename changes both or the inode's mtime). */
export async function fileVersion(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.mtimeNs}:${s.size}:${s.ino}`;
}

function shortReason(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const msg = err?.message ?? String(e);
  const code = err?.code ?? err?.cause?.code;
  // undici's messages are short; keep them on one line.
  return (code && !msg.includes(code) ? `${code}: ${msg}` : msg).replace(/\s+/g, ' ').slice(0, 200);
}
