import { open, stat } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { allowedUrl, boundedRequest, dispatcherFor, withTimeBudget } from './http.js';

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

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Only http: and https: distribution points are fetched (ldap:, file: … are refused). */
export function httpCrlUrl(raw: string): URL {
  return allowedUrl(raw, ['http:', 'https:'], (p) => `only http and https CRL URLs are supported, not ${p}`);
}

export function createCrlFetcher(opts: CrlFetchOptions = {}): CrlFetcher {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CRL_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_CRL_MAX_BYTES;
  const maxRedirects = opts.maxRedirects ?? 3;
  const { dispatcher, close } = dispatcherFor(opts.dispatcher, timeoutMs);
  const headers = { accept: 'application/pkix-crl, application/x-pem-file, */*' };

  return {
    async fetch(raw: string): Promise<Uint8Array> {
      let url = httpCrlUrl(raw);
      // One time budget for the whole redirect chain.
      return withTimeBudget(timeoutMs, async (signal) => {
        for (let hop = 0; ; hop++) {
          const r = await boundedRequest(url, { method: 'GET', headers, dispatcher, signal, timeoutMs, maxBytes, redirectStatuses: REDIRECTS });
          if ('bytes' in r) return r.bytes;
          const { status, location } = r.redirect;
          if (typeof location !== 'string' || location === '') throw new Error(`HTTP ${status} without a Location`);
          const next = httpCrlUrl(new URL(location, url).href);
          if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects`);
          url = next;
        }
      });
    },
    close,
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

/**
 * mtime (ns), size and inode identify a file version for the cache: an in-place write changes the
 * mtime, an atomic rename of a new file over the path changes the inode.
 */
export async function fileVersion(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.mtimeNs}:${s.size}:${s.ino}`;
}
