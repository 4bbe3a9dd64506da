import { tooManyRequests } from '../errors.js';

/** The refusal of a put over the identity's quota, the same from every store. */
export const quotaExceeded = (retryAfterMs: number) =>
  tooManyRequests(
    'token_quota_exceeded',
    'this identity holds the maximum number of outstanding tokens; revoke some or let them expire',
    // Nothing ever expires in under a second from a refusal's point of view; Retry-After is ≥ 1 s.
    Math.max(retryAfterMs, 1),
  );

/** The refusal of a login over its identity's rate (limits.loginsPerIdentityPerMinute), the same from every store. */
export const identityRateLimited = (retryAfterMs: number) =>
  tooManyRequests('rate_limited', 'too many logins for this identity; retry later', retryAfterMs);

/** The refusal of a login over its address's rate (limits.loginsPerIpPerMinute), the same from every store. */
export const addressRateLimited = (retryAfterMs: number) =>
  tooManyRequests('rate_limited', 'too many logins from this address; retry later', retryAfterMs);

/**
 * Rate buckets become part of a Redis key inside a `{hash tag}`: a brace would move the tag, so
 * buckets are checked here, once, for both stores.
 */
export function assertRate(bucket: string, limit: number, windowMs: number): void {
  if (!/^[^{}\s]{1,200}$/.test(bucket)) throw new Error(`rate bucket must be 1..200 characters without braces or spaces: ${JSON.stringify(bucket)}`);
  // A limit of 0 means "no limit" in the config; the caller then does not ask the store at all.
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`rate limit must be a positive integer, got ${limit}`);
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new Error(`rate window must be a positive integer (ms), got ${windowMs}`);
}
