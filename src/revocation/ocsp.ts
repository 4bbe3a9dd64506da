import { certRefused, type CertgateError } from '../errors.js';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import { buildOcspRequest, ocspTimeProblem, ocspUrlsOf, verifyOcspResponse, type OcspVerdict } from '../pki/formats/ocsp.js';
import type { Clock } from '../util/clock.js';
import { DEFAULT_RETRY_MS } from './cache.js';
import { createOcspFetcher, type OcspFetcher, type OcspFetchOptions } from './ocsp-fetch.js';
import { RefreshingCache } from './refreshing-cache.js';

/**
 * OCSP status of a login's leaf certificate: the responder is the identity's configured
 * `responder`, else the leaf's authorityInfoAccess OCSP URL; the answer is verified by the pure
 * src/pki/formats/ocsp.ts and the verdict cached per (responder, issuer, serial).
 *
 * - A verified verdict is kept until its nextUpdate (by the gateway clock), or `noNextUpdateMs`
 *   when it has none, and asked for again after.
 * - Concurrent logins for the same key share one request.
 * - A failed request or an invalid answer is remembered for `retryMs`, so a dead responder is not
 *   asked (and its timeout not paid) by every login; meanwhile the last verified verdict, if any,
 *   is still used — and judged stale once past its nextUpdate.
 * - A verified "revoked" refuses whatever its times say; "good" and "unknown" count only while
 *   current (thisUpdate ≤ now + skew, nextUpdate > now).
 * - Bounded by entry count; the least recently used entries go first.
 */

export type OcspOutcome =
  /** Nothing to ask: the leaf is pinned in the bundle (no issuer in the path). */
  | { kind: 'skipped' }
  | { kind: 'good' }
  | { kind: 'revoked'; error: CertgateError }
  /** The responder does not know the certificate. */
  | { kind: 'unknown'; problem: string }
  /** No responder, responder unreachable, invalid or stale answer. */
  | { kind: 'unavailable'; problem: string };

export interface OcspCheckerOptions extends OcspFetchOptions {
  clock: Clock;
  /** Replaces the undici fetcher (tests). */
  fetcher?: OcspFetcher;
  /** How long a failure (or an answer already stale) is kept before asking again. */
  retryMs?: number;
  /** How long a verdict without nextUpdate is kept. */
  noNextUpdateMs?: number;
  maxEntries?: number;
  /** Told about each request, for logs and metrics (never the bytes). */
  onRequest?: (url: string, outcome: { ok: true; status: OcspVerdict['status'] } | { ok: false; invalid: boolean; reason: string }) => void;
}

export interface OcspChecker {
  check(path: ParsedCert[], responder: string | undefined, now: Date): Promise<OcspOutcome>;
  /** Cached verdicts (tests). */
  readonly size: number;
  close(): Promise<void>;
}

const DEFAULT_OCSP_NO_NEXT_UPDATE_MS = 5 * 60_000;

export function createOcspChecker(opts: OcspCheckerOptions): OcspChecker {
  const fetcher = opts.fetcher ?? createOcspFetcher(opts);
  const noNextUpdateMs = opts.noNextUpdateMs ?? DEFAULT_OCSP_NO_NEXT_UPDATE_MS;
  const cache = new RefreshingCache<OcspVerdict>({
    clock: opts.clock,
    retryMs: opts.retryMs ?? DEFAULT_RETRY_MS,
    freshUntil: (verdict, now) => (verdict.nextUpdate ? verdict.nextUpdate.getTime() : now + noNextUpdateMs),
    maxEntries: opts.maxEntries ?? 4096,
  });

  async function ask(url: string, leaf: ParsedCert, issuer: ParsedCert): Promise<OcspVerdict> {
    let bytes: Uint8Array;
    try {
      bytes = await fetcher.post(url, buildOcspRequest(leaf, issuer));
    } catch (e) {
      opts.onRequest?.(url, { ok: false, invalid: false, reason: (e as Error).message });
      throw e;
    }
    try {
      const verdict = verifyOcspResponse({ response: bytes, cert: leaf, issuer, now: new Date(opts.clock.now()) });
      opts.onRequest?.(url, { ok: true, status: verdict.status });
      return verdict;
    } catch (e) {
      opts.onRequest?.(url, { ok: false, invalid: true, reason: (e as Error).message });
      throw e;
    }
  }

  return {
    async check(path, responder, now) {
      const [leaf, issuer] = path;
      if (!leaf || !issuer) return { kind: 'skipped' };
      const fromCert = ocspUrlsOf(leaf);
      // Certificates may list several protocols; only http is asked, so prefer an http URL.
      const url = responder ?? fromCert.find((u) => /^http:\/\//i.test(u)) ?? fromCert[0];
      if (!url) {
        return { kind: 'unavailable', problem: `"${leaf.subject}" names no OCSP responder (authorityInfoAccess) and none is configured` };
      }
      let verdict: OcspVerdict;
      try {
        verdict = await cache.get(`${url}\n${issuer.sha256}\n${leaf.serial}`, () => ask(url, leaf, issuer));
      } catch (e) {
        return { kind: 'unavailable', problem: `OCSP ${url}: ${(e as Error).message}` };
      }
      if (verdict.status === 'revoked') {
        const at = verdict.revokedAt ? ` at ${verdict.revokedAt.toISOString()}` : '';
        return { kind: 'revoked', error: certRefused('certificate_revoked', `"${leaf.subject}" (serial ${leaf.serial}) was revoked${at}`) };
      }
      const stale = ocspTimeProblem(verdict, now);
      if (stale) return { kind: 'unavailable', problem: `OCSP ${url}: ${stale}` };
      if (verdict.status === 'unknown') {
        return { kind: 'unknown', problem: `OCSP ${url} answered "unknown" for serial ${leaf.serial} of "${issuer.subject}"` };
      }
      return { kind: 'good' };
    },
    get size() {
      return cache.size;
    },
    close: () => fetcher.close(),
  };
}
