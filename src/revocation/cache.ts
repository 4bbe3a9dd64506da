// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { crlCurrentUntil, crlDer } from '../pki/formats/revocation.js';
import type { Clock } from '../util/clock.js';
import { RefreshingCache } from './refreshing-cache.js';

/**
 * CRL caches. A CRL fetched from a URL is kept until its nextUpdate (by the gateway clock) and
 * fetched again after; one without nextUpdate is refetched every `noNextUpdateMs`, and once past
 * thisUpdate + CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS (src/pki/formats/revocation.ts) it is treated like a CRL
 * past its nextUpdate (retried every `retryMs`; the checker reports it stale). A CRL file is kept
 * while its mtime/size/inode stay the same.
 *
 * - Concurrent logins needing the same URL share one fetch.
 * - A failed fetch is remembered for `retryMs`, so an unreachable distribution point is not
 *   hammered by every login (and does not add its timeout to every login).
 * - When a refetch fails or the CA has not yet published a newer CRL, the last good CRL is still
 *   returned: the checker then reports it stale (a failClosed identity refuses) yet still refuses
 *   any serial it lists, under either policy.
 * - Bounded by entry count and total bytes; the least recently used entries go first.
 */

export interface UrlCacheOptions {
  clock: Clock;
  load: (url: string) => Promise<Uint8Array>;
  /** How long a failure (or a CRL already past its nextUpdate) is kept before trying again. */
  retryMs?: number;
  /** Kept when a CRL has no nextUpdate (never beyond its thisUpdate + 24 h max age). */
  noNextUpdateMs?: number;
  maxEntries?: number;
  maxTotalBytes?: number;
  /** Told about each fetch, for logs and metrics (never the bytes). */
  onFetch?: (url: string, outcome: { ok: true; bytes: number } | { ok: false; reason: string }) => void;
}

export const DEFAULT_RETRY_MS = 10_000;

export class CrlUrlCache {
  private readonly cache: RefreshingCache<Uint8Array>;

  constructor(private readonly opts: UrlCacheOptions) {
    const retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    const noNextUpdateMs = opts.noNextUpdateMs ?? 3600_000;
    this.cache = new RefreshingCache<Uint8Array>({
      clock: opts.clock,
      retryMs,
      freshUntil: (bytes, now) => {
        const validity = crlValidity(bytes);
        // An unparsable CRL is handed over anyway (the checker names the defect) but retried soon.
        return validity === null
          ? now + retryMs
          : validity.nextUpdate !== undefined ? validity.nextUpdate : Math.min(now + noNextUpdateMs, validity.currentUntil);
      },
      maxEntries: opts.maxEntries ?? 256,
      maxTotalSize: opts.maxTotalBytes ?? 64 * 1024 * 1024,
      sizeOf: (bytes) => bytes.length,
      keepNewest: true,
      onLoad: (url, r) => opts.onFetch?.(url, r.ok ? { ok: true, bytes: r.value.length } : { ok: false, reason: r.error.message }),
    });
  }

  get size(): number {
    return this.cache.size;
  }

  get(url: string): Promise<Uint8Array> {
    return this.cache.get(url, () => this.opts.load(url));
  }
}

export interface FileCacheOptions {
  read: (path: string) => Promise<Uint8Array>;
  /** Identifies one version of the file (mtime, size, inode); cheap compared to a read. */
  version: (path: string) => Promise<string>;
}

export class CrlFileCache {
  private readonly entries = new Map<string, { version: string; bytes: Uint8Array }>();
  constructor(private readonly opts: FileCacheOptions) {}

  async get(path: string): Promise<Uint8Array> {
    const version = await this.opts.version(path);
    const e = this.entries.get(path);
    if (e && e.version === version) return e.bytes;
    const bytes = await this.opts.read(path);
    // Keyed by the version seen before the read: a write racing the read is picked up next time.
    this.entries.set(path, { version, bytes });
    return bytes;
  }
}

/**
 * nextUpdate in ms (undefined when the CRL has none) and until when it counts as current
 * (crlCurrentUntil: nextUpdate, else thisUpdate + 24 h); null when the bytes are not a CRL.
 */
function crlValidity(bytes: Uint8Array): { nextUpdate: number | undefined; currentUntil: number } | null {
  try {
    const crl = new x509.X509Crl(crlDer(bytes));
    return { nextUpdate: crl.nextUpdate?.getTime(), currentUntil: crlCurrentUntil(crl.thisUpdate, crl.nextUpdate) };
  } catch {
    return null;
  }
}
