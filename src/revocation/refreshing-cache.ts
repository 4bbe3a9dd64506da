import type { Clock } from '../util/clock.js';

/**
 * The cache behind both CRL URLs (cache.ts) and OCSP verdicts (ocsp.ts):
 *
 * - A loaded value is served without loading again until `freshUntil(value, now)`.
 * - Concurrent gets of the same key share one load.
 * - A failed load is remembered for `retryMs`: until then the last good value, if any, is served,
 *   else the failure is thrown again. A refresh that fails also falls back to the last good value.
 * - A fresh value is asked for again no earlier than `retryMs` after it was loaded, so a value
 *   that is stale on arrival (a CRL or OCSP answer past its nextUpdate) is served for `retryMs`.
 * - Bounded by entry count and (with `sizeOf`) total size; the least recently used entries go first.
 */
export interface RefreshingCacheOptions<V> {
  clock: Clock;
  retryMs: number;
  /** Until when (epoch ms) a value loaded at `now` is served without loading again. */
  freshUntil: (value: V, now: number) => number;
  maxEntries: number;
  /** Budget for the sum of `sizeOf` over the values held (default: unbounded). */
  maxTotalSize?: number;
  sizeOf?: (value: V) => number;
  /**
   * Whether the entry just written survives eviction even when it alone breaks a bound
   * (CRLs: a single CRL over the byte budget is still kept). Otherwise it may go too.
   */
  keepNewest?: boolean;
  /** Told about each load as it ends, before the entry is stored. */
  onLoad?: (key: string, outcome: { ok: true; value: V } | { ok: false; error: Error }) => void;
}

interface Entry<V> {
  value?: V;
  /** Until then `value` is served without loading. */
  freshUntil: number;
  /** The last failure, served (or the last good value served instead) until `retryAt`. */
  error?: Error;
  retryAt: number;
}

export class RefreshingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Promise<V>>();
  private totalSize = 0;

  constructor(private readonly opts: RefreshingCacheOptions<V>) {}

  get size(): number {
    return this.entries.size;
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.opts.clock.now();
    const e = this.entries.get(key);
    if (e) {
      // Recency only: the entry itself (and the total size) is unchanged.
      this.entries.delete(key);
      this.entries.set(key, e);
      if (e.value !== undefined && now < e.freshUntil) return e.value;
      if (now < e.retryAt) {
        if (e.value !== undefined) return e.value;
        if (e.error) throw e.error;
      }
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.refresh(key, load).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async refresh(key: string, load: () => Promise<V>): Promise<V> {
    let value: V;
    try {
      value = await load();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.opts.onLoad?.(key, { ok: false, error });
      const now = this.opts.clock.now();
      const prev = this.entries.get(key);
      this.put(key, { value: prev?.value, freshUntil: prev?.freshUntil ?? 0, error, retryAt: now + this.opts.retryMs });
      if (prev?.value !== undefined) return prev.value;
      throw error;
    }
    this.opts.onLoad?.(key, { ok: true, value });
    const now = this.opts.clock.now();
    const freshUntil = this.opts.freshUntil(value, now);
    this.put(key, { value, freshUntil, retryAt: Math.max(freshUntil, now + this.opts.retryMs) });
    return value;
  }

  private sizeOf(e: Entry<V> | undefined): number {
    return e?.value !== undefined && this.opts.sizeOf ? this.opts.sizeOf(e.value) : 0;
  }

  private put(key: string, e: Entry<V>): void {
    this.totalSize -= this.sizeOf(this.entries.get(key));
    this.entries.delete(key);
    this.entries.set(key, e);
    this.totalSize += this.sizeOf(e);
    const maxTotalSize = this.opts.maxTotalSize ?? Infinity;
    for (const [k, old] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.totalSize <= maxTotalSize) break;
      if (k === key && this.opts.keepNewest) continue;
      this.entries.delete(k);
      this.totalSize -= this.sizeOf(old);
    }
  }
}
