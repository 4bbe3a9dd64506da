import { createHash } from 'node:crypto';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import { BoundedMap } from '../util/bounded-map.js';

/**
 * Verified certification paths, so a workload logging in again with the same certificate does
 * not pay for the path search and its signature checks every time. Only successful path
 * validations are kept, and only the path: the login IP, the name policy and revocation (CRL,
 * OCSP, revoked-certificate list) are still checked on every login.
 *
 * An entry is keyed by
 * - the identity's trust bundle, by content (SHA-256 over its certificates' SHA-256s): a reload
 *   that changes the bundle misses, one that keeps it hits;
 * - the leaf's SHA-256 and the presented chain's SHA-256s in the order sent (the path found may
 *   depend on what was presented).
 * It is served only while `now` lies inside every path certificate's validity (so never after
 * the first notAfter in the path, nor before the last notBefore, whatever the clock does), and
 * the whole cache is dropped when revocation data changes (a CRL loaded or re-read). Bounded, with
 * BoundedMap's near-LRU eviction, of small entries (hashes and two times, ~0.5 KB each).
 */
export class VerifiedPathCache {
  private readonly map: BoundedMap<string, Entry>;
  private readonly bundleIds = new WeakMap<readonly ParsedCert[], string>();
  /** Logins served from the cache (the path search and its signature checks skipped). */
  hits = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    this.map = new BoundedMap(opts.maxEntries ?? 4_000);
  }

  get size(): number {
    return this.map.size;
  }

  /** The cached path for this bundle and presented chain, if it is valid at `now`. */
  get(bundle: readonly ParsedCert[], leaf: ParsedCert, presented: readonly ParsedCert[], now: Date): ParsedCert[] | undefined {
    const key = this.key(bundle, leaf, presented);
    const e = this.map.get(key);
    if (!e) return undefined;
    const t = now.getTime();
    if (t < e.notBefore || t > e.notAfter) {
      this.map.delete(key);
      return undefined;
    }
    // The path is rebuilt from this login's own certificates (the key guarantees they are the
    // same ones), so an entry holds hashes, never parsed certificates the parse cache let go.
    const path: ParsedCert[] = [];
    for (const sha of e.path) {
      const c = leaf.sha256 === sha ? leaf : (presented.find((p) => p.sha256 === sha) ?? bundle.find((b) => b.sha256 === sha));
      if (!c) return undefined;
      path.push(c);
    }
    this.hits++;
    return path;
  }

  /** Whether `get` would answer a path now (without counting a hit or refreshing the entry). */
  has(bundle: readonly ParsedCert[], leaf: ParsedCert, presented: readonly ParsedCert[], now: Date): boolean {
    const e = this.map.peek(this.key(bundle, leaf, presented));
    const t = now.getTime();
    return e !== undefined && t >= e.notBefore && t <= e.notAfter;
  }

  /** Remembers a path that validateClientChain just accepted for these inputs. */
  set(bundle: readonly ParsedCert[], leaf: ParsedCert, presented: readonly ParsedCert[], path: ParsedCert[]): void {
    const key = this.key(bundle, leaf, presented);
    let notBefore = -Infinity;
    let notAfter = Infinity;
    for (const c of path) {
      notBefore = Math.max(notBefore, c.notBefore.getTime());
      notAfter = Math.min(notAfter, c.notAfter.getTime());
    }
    this.map.set(key, { path: path.map((c) => c.sha256), notBefore, notAfter });
  }

  /** Revocation data changed: forget every path (revocation itself is checked per login anyway). */
  clear(): void {
    this.map.clear();
  }

  private key(bundle: readonly ParsedCert[], leaf: ParsedCert, presented: readonly ParsedCert[]): string {
    let id = this.bundleIds.get(bundle);
    if (id === undefined) {
      const h = createHash('sha256');
      for (const c of bundle) h.update(c.sha256);
      id = h.digest('hex');
      this.bundleIds.set(bundle, id);
    }
    let key = `${id}|${leaf.sha256}`;
    for (const c of presented) key += `,${c.sha256}`;
    return key;
  }
}

interface Entry {
  /** SHA-256s of the path, leaf … anchor. */
  path: string[];
  /** Epoch ms: the latest notBefore and the earliest notAfter of the path. */
  notBefore: number;
  notAfter: number;
}
