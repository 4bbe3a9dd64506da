import { BoundedMap } from '../util/bounded-map.js';

/**
 * Which client certificates the parse cache keeps: a leaf only from its second login on.
 * Certificates seen once (a fleet rotating short-lived certificates, one login each) are then
 * parsed, used and dropped within the request, so their node:crypto X509Certificate (OpenSSL
 * memory V8 does not see) dies young instead of sitting in the cache until evicted and then in
 * the old generation until a full GC: with ever-new certificates that garbage, not the cache,
 * was most of the gateway's RSS (bench --rss). Workloads logging in again with the same
 * certificate hit the cache from their second login. Intermediates are always admitted.
 * Remembers the last 10,000 leaves seen (~1.3 MB).
 */
export class LeafAdmission {
  private readonly seen = new BoundedMap<string, true>(10_000);

  admit = (sha256: string): boolean => {
    if (this.seen.get(sha256)) return true;
    this.seen.set(sha256, true);
    return false;
  };
}
