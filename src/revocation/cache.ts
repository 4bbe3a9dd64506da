// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { crlCurrentUntil } from '../pki/revocation.js';
import type { Clock } from '../util/clock.js';

/**
 * CRL caches. A CRL fetched from a URL is kept until its nextUpdate (by the gateway clock) and
 * fetched again after; one without nextUpdate is refetched every `noNextUpdateMs`, and once past
 * thisUpdate + CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS (src/pki/revocation.ts) it is treated like a CRL
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

interface UrlEntry {
  bytes?: Uint8Array;
  /** Until then `bytes` are served without asking the network. */
  freshUntil: number;
  /** The last failure, served (or stale bytes served instead) until `retryAt`. */
  error?: Error;
  retryAt: number;
}

export const DEFAULT_RETRY_MS = 10_000;

export class CrlUrlCache {
  private readonly entries = new Map<string, UrlEntry>();
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private totalBytes = 0;
  private readonly retryMs: number;
  private readonly noNextUpdateMs: number;
  private readonly maxEntries: number;
  private readonly maxTotalBytes: number;

  constructor(private readonly opts: UrlCacheOptions) {
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.noNextUpdateMs = opts.noNextUpdateMs ?? 3600_000;
    this.maxEntries = opts.maxEntries ?? 256;
    this.maxTotalBytes = opts.maxTotalBytes ?? 64 * 1024 * 1024;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(url: string): Promise<Uint8Array> {
    const now = this.opts.clock.now();
    const e = this.entries.get(url);
    if (e) {
      this.touch(url, e);
      if (e.bytes && now < e.freshUntil) return e.bytes;
      if (now < e.retryAt) {
        if (e.bytes) return e.bytes;
        if (e.error) throw e.error;
      }
    }
    let p = this.inflight.get(url);
    if (!p) {
      p = this.refresh(url).finally(() => this.inflight.delete(url));
      this.inflight.set(url, p);
    }
    return p;
  }

  private async refresh(url: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await this.opts.load(url);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.opts.onFetch?.(url, { ok: false, reason: error.message });
      const now = this.opts.clock.now();
      const prev = this.entries.get(url);
      this.put(url, { bytes: prev?.bytes, freshUntil: prev?.freshUntil ?? 0, error, retryAt: now + this.retryMs });
      if (prev?.bytes) return prev.bytes;
      throw error;
    }
    this.opts.onFetch?.(url, { ok: true, bytes: bytes.length });
    const now = this.opts.clock.now();
    const validity = crlValidity(bytes);
    // An unparsable CRL is handed over anyway (the checker names the defect) but retried soon.
    const freshUntil = validity === null
      ? now + this.retryMs
      : validity.nextUpdate !== undefined ? validity.nextUpdate : Math.min(now + this.noNextUpdateMs, validity.currentUntil);
    this.put(url, { bytes, freshUntil, retryAt: Math.max(freshUntil, now + this.retryMs) });
    return bytes;
  }

  private touch(url: string, e: UrlEntry): void {
    this.entries.delete(url);
    this.entries.set(url, e);
  }

  private put(url: string, e: UrlEntry): void {
    const prev = this.entries.get(url);
    if (prev?.bytes) this.totalBytes -= prev.bytes.length;
    this.entries.delete(url);
    this.entries.set(url, e);
    if (e.bytes) this.totalBytes += e.bytes.length;
    for (const [k, old] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.totalBytes <= this.maxTotalBytes) break;
      if (k === url) continue;
      this.entries.delete(k);
      if (old.bytes) this.totalBytes -= old.bytes.length;
    }
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
export function crlValidity(bytes: Uint8Array): { nextUpdate: number | undefined; currentUntil: number } | null {
  try {
    const text = Buffer.from(bytes).toString('latin1');
    const der = text.trimStart().startsWith('-----BEGIN X509 CRL-----')
      ? new Uint8Array(Buffer.from(text.replace(/-----(BEGIN|END) X509 CRL-----|\s+/g, ''), 'base64'))
      : new Uint8Array(bytes);
    const crl = new x509.X509Crl(der);
    return { nextUpdate: crl.nextUpdate?.getTime(), currentUntil: crlCurrentUntil(crl.thisUpdate, crl.nextUpdate) };
  } catch {
    return null;
  }
}
