import { addressRateLimited } from '../store/limits.js';
import { BoundedMap } from '../util/bounded-map.js';
import { bytesToIp, ipToBytes } from '../pki/parsing/ip.js';
import type { TokenStore } from '../store/types.js';
import { normalizeIp } from '../util/cidr.js';
import type { Clock } from '../util/clock.js';

/** `limits:` of the config: 0 switches a limit off. */
export interface LoginLimitsConfig {
  loginsPerIpPerMinute: number;
  loginsPerIdentityPerMinute: number;
  outstandingTokensPerIdentity: number;
}

const MINUTE_MS = 60_000;

/**
 * The login rate limits, counted in the store so that every gateway sharing it counts the same
 * logins (a client cannot multiply its budget by spreading over the fleet). `limits` is read at
 * each call, so a reloaded config applies at once.
 */
export class LoginLimits {
  constructor(
    private readonly store: TokenStore,
    private readonly limits: () => LoginLimitsConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * Per client address: every login attempt counts, successful or not, so a client cannot make the
   * gateway validate chains faster than this. Counted here before any path search (see the login
   * route), or by the store in the login's own step (addressRate) when no search is needed.
   */
  async admitAddress(clientIp: string): Promise<void> {
    const rate = this.addressRate(clientIp);
    if (!rate) return;
    const d = await this.store.hitRate(rate.bucket, rate.limit, rate.windowMs, this.clock.now());
    if (!d.allowed) throw addressRateLimited(d.retryAfterMs);
  }

  /** The per-address rate for the store to count with the login's writes (PutOptions.addressRate); undefined when off. */
  addressRate(clientIp: string): { bucket: string; limit: number; windowMs: number } | undefined {
    const limit = this.limits().loginsPerIpPerMinute;
    return limit > 0 ? { bucket: `ip:${addressBucket(clientIp)}`, limit, windowMs: MINUTE_MS } : undefined;
  }

  /**
   * Per identity, once the certificate has been authenticated for it: not counted here but by the
   * store, in the same step as the outstanding-token quota (PutOptions.identityRate, one round
   * trip for both); a login over it is refused 429 rate_limited, like the per-address limit.
   * Undefined when switched off.
   */
  identityRate(): { limit: number; windowMs: number } | undefined {
    const limit = this.limits().loginsPerIdentityPerMinute;
    return limit > 0 ? { limit, windowMs: MINUTE_MS } : undefined;
  }
}

/**
 * The unit one client is counted by: an IPv4 address, or an IPv6 /64 — the smallest block a site
 * is normally given, so one client holds 2^64 addresses and counting each would count nothing.
 * IPv4-mapped IPv6 counts as its IPv4 address.
 */
export function addressBucket(clientIp: string): string {
  let bucket = buckets.get(clientIp);
  if (bucket === undefined) {
    bucket = bucketOf(clientIp);
    buckets.set(clientIp, bucket);
  }
  return bucket;
}
/** The buckets of the last addresses seen (a pure function of the address; logins repeat addresses). */
const buckets = new BoundedMap<string, string>(1024);

function bucketOf(clientIp: string): string {
  const ip = normalizeIp(clientIp);
  if (!ip) return 'unknown';
  const bytes = ipToBytes(ip);
  if (!bytes || bytes.length === 4) return ip;
  bytes.fill(0, 8);
  return `${bytesToIp(bytes)}/64`;
}
