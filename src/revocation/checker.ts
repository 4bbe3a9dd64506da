import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { certRefused, isCertgateError } from '../errors.js';
import type { Identity } from '../config/load.js';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import { checkRevocation, type CrlSources } from '../pki/formats/revocation.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { Clock } from '../util/clock.js';
import { CrlFileCache, CrlUrlCache } from './cache.js';
import { createCrlFetcher, fileVersion, readCrlFileBounded, type CrlFetchOptions, type CrlFetcher } from './fetch.js';
import type { OcspFetcher } from './ocsp-fetch.js';
import { createOcspChecker, type OcspOutcome } from './ocsp.js';

/**
 * Revocation at login: the identity's CRL sources, loaded through the caches, judged by the pure
 * checker (src/pki/formats/revocation.ts), and, with `ocsp.enabled`, the leaf's OCSP status
 * (src/revocation/ocsp.ts; intermediates are covered by CRLs only). Throws `certificate_revoked`
 * when either source says so (always); under failClosed `certificate_status_unknown` when the
 * OCSP responder does not know the leaf, else `revocation_unavailable` for any CRL or OCSP
 * problem; under failOpen it logs what could not be checked and lets the login through.
 */
export interface RevocationChecker {
  check(identity: Identity, path: ParsedCert[], now: Date): Promise<void>;
  close(): Promise<void>;
  /** What the background CRL refresh reads (src/revocation/crl-watcher.ts); absent on test doubles. */
  crlWatch?: CrlWatchSource;
}

/** The CRLs of an identity as its login check would read them now, through the same caches. */
export interface CrlWatchSource {
  /**
   * Its CRL files, its configured URLs, and (with fromCertificate) the distribution points of the
   * certificates its logins presented; a URL is only fetched again once its CRL is past
   * nextUpdate (or after a failure, retryMs). Sources that cannot be read are left out.
   */
  currentCrls(identity: Identity): Promise<{ source: string; bytes: Uint8Array }[]>;
  /** CAs a CRL of this identity may be signed by: its bundle and the CAs of paths it validated. */
  issuers(identity: Identity): ParsedCert[];
}

/** Which check found a certificate revoked: set on the certificate_revoked errors check throws. */
const revokedBySource = new WeakMap<Error, 'crl' | 'ocsp'>();
export const revokedBy = (e: unknown): 'crl' | 'ocsp' | undefined => (e instanceof Error ? revokedBySource.get(e) : undefined);

/** Bounds of what the checker learns from logins for the background refresh. */
const MAX_LEARNED_CAS = 1000;
const MAX_LEARNED_CDPS_PER_IDENTITY = 64;

export interface RevocationOptions extends CrlFetchOptions {
  clock: Clock;
  log: Logger;
  /** Where the revocation counters go (the gateway's /metrics registry). */
  registry?: Registry;
  retryMs?: number;
  /** Replaces the undici fetcher (tests). */
  fetcher?: CrlFetcher;
  /** Replaces the undici OCSP fetcher (tests). */
  ocspFetcher?: OcspFetcher;
  /** Told when new CRL data arrives (a URL fetched, a file re-read): caches built on it drop. */
  onDataChanged?: () => void;
}

/** The CRL sources an identity configured; undefined when it checks no CRL. */
function crlSourcesOf(identity: Identity): CrlSources | undefined {
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
    help: 'Login revocation checks by identity and outcome (good, revoked, unavailable_refused, unknown_refused, unavailable_allowed)',
    labelNames: ['identity', 'outcome'],
    registers: opts.registry ? [opts.registry] : [],
  });
  const urls = new CrlUrlCache({
    clock: opts.clock,
    load: (u) => fetcher.fetch(u),
    retryMs: opts.retryMs,
    onFetch: (url, r) => {
      fetches.inc({ outcome: r.ok ? 'ok' : 'error' });
      if (r.ok) opts.onDataChanged?.();
      if (!r.ok) opts.log.warn({ event: 'crl_fetch_failed', url, reason: r.reason }, 'CRL download failed');
    },
  });
  const files = new CrlFileCache({
    read: async (p) => {
      const bytes = await readCrlFileBounded(p, opts.maxBytes);
      opts.onDataChanged?.();
      return bytes;
    },
    version: fileVersion,
  });

  const ocspRequests = new Counter({
    name: 'certgate_ocsp_requests_total',
    help: 'OCSP requests by outcome (good, revoked, unknown, error, invalid)',
    labelNames: ['outcome'],
    registers: opts.registry ? [opts.registry] : [],
  });
  const ocsp = createOcspChecker({
    clock: opts.clock,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBytes,
    dispatcher: opts.dispatcher,
    fetcher: opts.ocspFetcher,
    retryMs: opts.retryMs,
    onRequest: (url, r) => {
      ocspRequests.inc({ outcome: r.ok ? r.status : r.invalid ? 'invalid' : 'error' });
      if (!r.ok) opts.log.warn({ event: 'ocsp_request_failed', url, reason: r.reason }, r.invalid ? 'OCSP response invalid' : 'OCSP request failed');
    },
  });

  // Learned from validated login paths: CAs (to verify CRLs without a login at hand) and, per
  // identity, distribution points (what fromCertificate fetches). Both bounded, oldest dropped.
  const learnedCas = new BoundedMap<string, ParsedCert>(MAX_LEARNED_CAS);
  const learnedCdps = new Map<string, Set<string>>();
  const learn = (identity: Identity, path: ParsedCert[]) => {
    for (const ca of path.slice(1)) learnedCas.set(ca.sha256, ca);
    if (!identity.revocation?.crl?.fromCertificate) return;
    let set = learnedCdps.get(identity.id);
    if (!set) learnedCdps.set(identity.id, (set = new Set()));
    for (const c of fetchablePath(path).slice(0, -1)) {
      for (const u of c.crlDistributionPoints.filter(isHttp)) {
        set.delete(u);
        set.add(u);
        if (set.size > MAX_LEARNED_CDPS_PER_IDENTITY) set.delete(set.values().next().value!);
      }
    }
  };
  const crlWatch: CrlWatchSource = {
    async currentCrls(identity) {
      const sources = crlSourcesOf(identity);
      if (!sources) return [];
      const jobs: [string, Promise<Uint8Array>][] = [
        ...(sources.files ?? []).map((f): [string, Promise<Uint8Array>] => [`file ${f}`, files.get(f)]),
        ...[...new Set([...(sources.urls ?? []), ...(learnedCdps.get(identity.id) ?? [])])].map((u): [string, Promise<Uint8Array>] => [u, urls.get(u)]),
      ];
      const settled = await Promise.allSettled(jobs.map(([, p]) => p));
      return settled.flatMap((r, i) => (r.status === 'fulfilled' ? [{ source: jobs[i]![0], bytes: r.value }] : []));
    },
    issuers(identity) {
      return [...identity.bundle, ...learnedCas.values()];
    },
  };

  return {
    crlWatch,
    async check(identity, path, now) {
      const sources = crlSourcesOf(identity);
      const ocspConfig = identity.revocation?.ocsp?.enabled ? identity.revocation.ocsp : undefined;
      if (!sources && !ocspConfig) return;
      learn(identity, path);
      const onUnavailable = identity.revocation?.onUnavailable ?? 'failClosed';
      // Both run at once; the CRL side collects its problems (failOpen) so that the policy below
      // decides over CRL and OCSP problems together.
      const [crl, leaf] = await Promise.allSettled([
        sources
          ? checkRevocation({
              path: fetchablePath(path),
              sources,
              now,
              onUnavailable: 'failOpen',
              fetchCrl: (u) => urls.get(u),
              readCrlFile: (p) => files.get(p),
            })
          : Promise.resolve({ unavailable: [] as string[] }),
        ocspConfig ? ocsp.check(path, ocspConfig.responder, now) : Promise.resolve<OcspOutcome>({ kind: 'skipped' }),
      ]);
      if (leaf.status === 'rejected') throw leaf.reason;
      // A revocation by either source refuses, whatever the other says and whatever the policy.
      const revoked = crl.status === 'rejected' && isCertgateError(crl.reason) && crl.reason.code === 'certificate_revoked'
        ? crl.reason
        : leaf.value.kind === 'revoked' ? leaf.value.error : undefined;
      if (revoked) {
        revokedBySource.set(revoked, leaf.value.kind === 'revoked' && revoked === leaf.value.error ? 'ocsp' : 'crl');
        checks.inc({ identity: identity.id, outcome: 'revoked' });
        throw revoked;
      }
      if (crl.status === 'rejected') throw crl.reason;

      const problems = [...crl.value.unavailable];
      if (leaf.value.kind === 'unavailable' || leaf.value.kind === 'unknown') problems.push(leaf.value.problem);
      if (problems.length === 0) {
        checks.inc({ identity: identity.id, outcome: 'good' });
        return;
      }
      if (onUnavailable === 'failOpen') {
        checks.inc({ identity: identity.id, outcome: 'unavailable_allowed' });
        opts.log.warn(
          { event: 'revocation_unavailable', identity: identity.id, policy: 'failOpen', outcome: 'allowed', problems },
          'revocation status could not be established; login allowed (failOpen)',
        );
        return;
      }
      const unknown = leaf.value.kind === 'unknown';
      checks.inc({ identity: identity.id, outcome: unknown ? 'unknown_refused' : 'unavailable_refused' });
      opts.log.warn(
        {
          event: 'revocation_unavailable',
          identity: identity.id,
          policy: 'failClosed',
          outcome: 'refused',
          reason: `revocation status cannot be established: ${problems[0]}`,
          problems,
        },
        'revocation status could not be established; login refused (failClosed)',
      );
      // Which CRL or responder failed and why is for the operator's log, not for the client.
      if (unknown) {
        throw certRefused('certificate_status_unknown', `the OCSP responder does not know the certificate; identity "${identity.id}" requires a known status`);
      }
      throw certRefused('revocation_unavailable', `the revocation status of the certificate cannot be established for identity "${identity.id}"`);
    },
    close: async () => {
      await Promise.all([fetcher.close(), ocsp.close()]);
    },
  };
}
