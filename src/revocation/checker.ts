import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { certRefused, isCertgateError } from '../errors.js';
import type { Identity } from '../config/load.js';
import type { ParsedCert } from '../pki/certificate.js';
import { checkRevocation, type CrlSources } from '../pki/revocation.js';
import type { Clock } from '../util/clock.js';
import { CrlFileCache, CrlUrlCache } from './cache.js';
import { createCrlFetcher, fileVersion, readCrlFileBounded, type CrlFetchOptions, type CrlFetcher } from './fetch.js';

/**
 * Revocation at login: the identity's CRL sources, loaded through the caches, judged by the pure
 * checker (src/pki/revocation.ts). Throws `certificate_revoked` (always) or
 * `revocation_unavailable` (failClosed); under failOpen it logs what could not be checked and
 * lets the login through.
 */
export interface RevocationChecker {
  check(identity: Identity, path: ParsedCert[], now: Date): Promise<void>;
  close(): Promise<void>;
}

export interface RevocationOptions extends CrlFetchOptions {
  clock: Clock;
  log: Logger;
  /** Where the revocation counters go (the gateway's /metrics registry). */
  registry?: Registry;
  retryMs?: number;
  /** Replaces the undici fetcher (tests). */
  fetcher?: CrlFetcher;
}

/** The CRL sources an identity configured; undefined when it checks no revocation. */
export function crlSourcesOf(identity: Identity): CrlSources | undefined {
  const crl = identity.revocation?.crl;
  if (!crl || (!crl.fromCertificate && crl.urls.length === 0 && crl.files.length === 0)) return undefined;
  return { fromCertificate: crl.fromCertificate, urls: crl.urls, files: crl.files };
}

const isHttp = (u: string) => /^https?:\/\//i.test(u);

/**
 * A certificate often lists the same CRL over several protocols (AD CS: ldap:// then http://).
 * Only http(s) is fetched, so the other ones are dropped when an http(s) one remains; a
 * certificate with no http(s) distribution point keeps them, and they fail loudly.
 */
function fetchablePath(path: ParsedCert[]): ParsedCert[] {
  return path.map((c) => {
    const http = c.crlDistributionPoints.filter(isHttp);
    return http.length > 0 && http.length < c.crlDistributionPoints.length ? { ...c, crlDistributionPoints: http } : c;
  });
}

export function createRevocationChecker(opts: RevocationOptions): RevocationChecker {
  const fetcher = opts.fetcher ?? createCrlFetcher(opts);
  const fetches = new Counter({
    name: 'certgate_crl_fetches_total',
    help: 'CRL downloads by outcome',
    labelNames: ['outcome'],
    registers: opts.registry ? [opts.registry] : [],
  });
  const checks = new Counter({
    name: 'certgate_revocation_checks_total',
    help: 'Login revocation checks by identity and outcome (good, revoked, unavailable_refused, unavailable_allowed)',
    labelNames: ['identity', 'outcome'],
    registers: opts.registry ? [opts.registry] : [],
  });
  const urls = new CrlUrlCache({
    clock: opts.clock,
    load: (u) => fetcher.fetch(u),
    retryMs: opts.retryMs,
    onFetch: (url, r) => {
      fetches.inc({ outcome: r.ok ? 'ok' : 'error' });
      if (!r.ok) opts.log.warn({ event: 'crl_fetch_failed', url, reason: r.reason }, 'CRL download failed');
    },
  });
  const files = new CrlFileCache({ read: (p) => readCrlFileBounded(p, opts.maxBytes), version: fileVersion });

  return {
    async check(identity, path, now) {
      const sources = crlSourcesOf(identity);
      if (!sources) return;
      const onUnavailable = identity.revocation?.onUnavailable ?? 'failClosed';
      try {
        const r = await checkRevocation({
          path: fetchablePath(path),
          sources,
          now,
          onUnavailable,
          fetchCrl: (u) => urls.get(u),
          readCrlFile: (p) => files.get(p),
        });
        if (r.unavailable.length) {
          checks.inc({ identity: identity.id, outcome: 'unavailable_allowed' });
          opts.log.warn(
            { event: 'revocation_unavailable', identity: identity.id, policy: 'failOpen', outcome: 'allowed', problems: r.unavailable },
            'revocation status could not be established; login allowed (failOpen)',
          );
        } else {
          checks.inc({ identity: identity.id, outcome: 'good' });
        }
      } catch (e) {
        if (isCertgateError(e) && e.code === 'revocation_unavailable') {
          checks.inc({ identity: identity.id, outcome: 'unavailable_refused' });
          opts.log.warn(
            { event: 'revocation_unavailable', identity: identity.id, policy: 'failClosed', outcome: 'refused', reason: e.message },
            'revocation status could not be established; login refused (failClosed)',
          );
          // Which CRL failed and why is for the operator's log, not for the client.
          throw certRefused('revocation_unavailable', `the revocation status of the certificate cannot be established for identity "${identity.id}"`);
        } else if (isCertgateError(e) && e.code === 'certificate_revoked') {
          checks.inc({ identity: identity.id, outcome: 'revoked' });
        }
        throw e;
      }
    },
    close: () => fetcher.close(),
  };
}
