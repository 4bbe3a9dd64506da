import { assertRate } from './limits.js';
import type { RateDecision } from './types.js';

/**
 * One identity's outstanding tokens for the quota: jti → current expiresAt. Tokens leave on
 * revoke, revoke-all, their last use, and at expiry (pruned lazily). Memory: at most one entry
 * per outstanding token, which the records map holds anyway.
 */
export class OutstandingTokens {
  private readonly tokens = new Map<string, number>();
  /** A lower bound of every expiry held: while now is before it, nothing can be pruned. */
  private earliest = Infinity;

  get size(): number {
    return this.tokens.size;
  }

  add(jti: string, expiresAt: number): void {
    this.tokens.set(jti, expiresAt);
    this.earliest = Math.min(this.earliest, expiresAt);
  }

  /** Renew only moves an expiry later, so `earliest` stays a lower bound. */
  renew(jti: string, expiresAt: number): void {
    if (this.tokens.has(jti)) this.tokens.set(jti, expiresAt);
  }

  delete(jti: string): void {
    this.tokens.delete(jti);
  }

  deleteWhere(pred: (jti: string) => boolean): void {
    for (const jti of this.tokens.keys()) if (pred(jti)) this.tokens.delete(jti);
  }

  /**
   * Tokens not yet expired at `now`. Prunes only when something may have expired (now ≥ the
   * earliest expiry), so a flood against a full quota costs O(1) per refused login, not a scan.
   */
  count(now: number): number {
    if (now >= this.earliest) {
      let earliest = Infinity;
      for (const [jti, exp] of this.tokens) {
        if (now >= exp) this.tokens.delete(jti);
        else earliest = Math.min(earliest, exp);
      }
      this.earliest = earliest;
    }
    return this.tokens.size;
  }

  /** The earliest expiry held (call after count): when the quota frees up at the latest. */
  nextExpiry(): number {
    let earliest = Infinity;
    for (const exp of this.tokens.values()) earliest = Math.min(earliest, exp);
    return earliest;
  }
}

/**
 * Fixed-window counters keyed by bucket, timed by the caller's `now`. Bounded: expired windows go
 * at each sweep, and beyond MAX_BUCKETS the oldest window is forgotten (that bucket starts afresh:
 * only a flood from more distinct addresses than this within one window can do it).
 */
const MAX_BUCKETS = 100_000;

export class RateWindows {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  hit(bucket: string, limit: number, windowMs: number, now: number): RateDecision {
    assertRate(bucket, limit, windowMs);
    let w = this.windows.get(bucket);
    if (!w || now >= w.endsAt) {
      // A new window goes to the end of the Map: insertion order is window-start order.
      this.windows.delete(bucket);
      w = { count: 0, endsAt: now + windowMs };
      this.windows.set(bucket, w);
      if (this.windows.size > MAX_BUCKETS) {
        this.sweep(now);
        if (this.windows.size > MAX_BUCKETS) this.windows.delete(this.windows.keys().next().value!);
      }
    }
    const retryAfterMs = w.endsAt - now;
    if (w.count >= limit) return { allowed: false, count: w.count, retryAfterMs };
    w.count++;
    return { allowed: true, count: w.count, retryAfterMs };
  }

  sweep(now: number): void {
    for (const [bucket, w] of this.windows) if (now >= w.endsAt) this.windows.delete(bucket);
  }

  clear(): void {
    this.windows.clear();
  }
}
