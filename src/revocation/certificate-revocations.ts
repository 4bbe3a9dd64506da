import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { audit } from '../audit/events.js';
import type { ParsedCert } from '../pki/parsing/certificate.js';
import type { CertificateSelector, RevokeCertificateResult, TokenStore } from '../store/types.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { Clock } from '../util/clock.js';
import { revokedBy, type RevocationChecker } from './checker.js';

/**
 * How long the marker of a certificate certgate has never seen (no token, so no notAfter known)
 * refuses its logins: one year, whatever the config says. The marker must outlive the certificate
 * or the certificate could log in again once it lapses; client certificates are rarely valid for
 * more than a year or two, and an admin revoke is rare, so a year of a 100-byte key is cheap.
 * A revoke through `certgate tokens revoke-certificate --cert FILE` knows the notAfter and uses it.
 */
export const UNKNOWN_CERTIFICATE_MARKER_MS = 365 * 24 * 3600_000;

/** Who revoked: the admin API, the CLI, a CRL (background refresh or a check), an OCSP answer. */
export type RevocationSource = 'admin-api' | 'cli' | 'crl' | 'ocsp';

export interface CertificateRevocationsOptions {
  store: TokenStore;
  log: Logger;
  clock: Clock;
  registry?: Registry;
}

/**
 * Revoking a certificate: its tokens on every gateway (the store's certificate index), and its
 * logins until its notAfter (markers the login reads). Every revoke that changed something is
 * audited (`certificate_revoked`) and counted.
 */
export class CertificateRevocations {
  private readonly certificates: Counter<'source'>;
  private readonly tokens: Counter<'source'>;
  /** Certificates this gateway already killed after a CRL/OCSP check: one store round per certificate, not per login. */
  private readonly killed = new BoundedMap<string, true>(10_000);
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(private readonly o: CertificateRevocationsOptions) {
    const registers = o.registry ? [o.registry] : [];
    this.certificates = new Counter({ name: 'certgate_certificate_revocations_total', help: 'Certificates revoked (admin API, CLI, CRL, OCSP) that had tokens or got a login marker', labelNames: ['source'], registers });
    this.tokens = new Counter({ name: 'certgate_certificate_revoked_tokens_total', help: 'Tokens revoked because their certificate was revoked', labelNames: ['source'], registers });
  }

  async revoke(
    selector: CertificateSelector,
    opts: { source: RevocationSource; by: string; notAfter?: number; onlyKnown?: boolean },
  ): Promise<RevokeCertificateResult> {
    const now = this.o.clock.now();
    const result = await this.o.store.revokeCertificate(selector, {
      now,
      defaultUntil: opts.notAfter ?? now + UNKNOWN_CERTIFICATE_MARKER_MS,
      onlyKnown: opts.onlyKnown,
    });
    if (!result.marked && result.tokens === 0) return result;
    this.certificates.inc({ source: opts.source }, Math.max(1, result.certificates.length));
    this.tokens.inc({ source: opts.source }, result.tokens);
    const named = result.certificates.length > 0 ? result.certificates : [selector];
    for (const c of named) {
      audit(this.o.log, 'certificate_revoked', {
        certSha256: c.sha256,
        issuer: c.issuer,
        serial: c.serial,
        source: opts.source,
        // The count is per call; with several certificates (a reused serial) it is their total.
        tokens: result.tokens,
        by: opts.by,
      });
    }
    return result;
  }

  /**
   * A CRL or OCSP check (login, renew) found `leaf` revoked: its tokens die too, and its logins are
   * refused by marker on every gateway. Once per certificate per gateway; a store failure is
   * logged, never hides the refusal itself.
   */
  async revokedByCheck(leaf: ParsedCert, source: 'crl' | 'ocsp', by: string): Promise<void> {
    if (this.killed.get(leaf.sha256)) return;
    // A login checks each identity the certificate satisfies at once: one revoke for all of them.
    let pending = this.inflight.get(leaf.sha256);
    if (!pending) {
      pending = this.revoke({ sha256: leaf.sha256, issuer: leaf.issuer, serial: leaf.serial }, { source, by, notAfter: leaf.notAfter.getTime() })
        .then(
          () => this.killed.set(leaf.sha256, true),
          (e: unknown) => {
            this.o.log.error({ event: 'certificate_revoke_failed', certSha256: leaf.sha256, source, err: (e as Error).message }, 'could not revoke the tokens of a revoked certificate');
          },
        )
        .finally(() => this.inflight.delete(leaf.sha256));
      this.inflight.set(leaf.sha256, pending);
    }
    await pending;
  }
}

/** `inner`, plus: a certificate it finds revoked has its tokens revoked (see revokedByCheck). */
export function killingTokensOnRevoked(inner: RevocationChecker, revocations: CertificateRevocations, by: string): RevocationChecker {
  return {
    crlWatch: inner.crlWatch,
    close: () => inner.close(),
    async check(identity, path, now) {
      try {
        await inner.check(identity, path, now);
      } catch (e) {
        const source = revokedBy(e);
        if (source && path[0]) await revocations.revokedByCheck(path[0], source, by);
        throw e;
      }
    },
  };
}
