import type { Logger } from 'pino';
import type { Identity } from '../config/load.js';
import { dnText } from '../pki/parsing/certificate-id.js';
import { verifiedCrlSerials } from '../pki/formats/revocation.js';
import type { CertificateRevocations } from './certificate-revocations.js';
import type { CrlWatchSource } from './checker.js';

/**
 * Background CRL refresh: every `intervalMs` each identity's CRLs are read through the login
 * check's own caches (src/revocation/checker.ts crlWatch) — a file when its mtime/size/inode
 * changed, a URL once its CRL is past nextUpdate — and a CRL that is new or changed is verified
 * like at login. Each serial it lists that the previous version did not (on the first read: every
 * serial) is looked up in the store's issuer + serial index, and a certificate found there is
 * revoked the way an admin revoke does it: its tokens die on every gateway, its logins are refused
 * by marker until its notAfter. Certificates the store never saw get no marker (onlyKnown): the
 * CRL check at their login refuses them.
 *
 * Every gateway runs its own refresh; the store makes a second run a no-op (revoke is idempotent,
 * and only newly revoked tokens are counted).
 */
export const DEFAULT_CRL_WATCH_INTERVAL_MS = 2000;
/** Serials looked up at once: a CRL of 100,000 entries is read at startup without flooding the store. */
const BATCH = 200;

export interface CrlWatcherOptions {
  identities: () => readonly Identity[];
  source: CrlWatchSource;
  revocations: CertificateRevocations;
  log: Logger;
  intervalMs?: number;
}

interface Seen {
  /** The version last looked at, and whether it verified. */
  bytes: Uint8Array;
  verified: boolean;
  /** Serials of the last version that verified (what "newly listed" is measured against). */
  serials?: Set<string>;
}

export class CrlWatcher {
  private readonly seen = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: CrlWatcherOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? DEFAULT_CRL_WATCH_INTERVAL_MS);
    // Housekeeping: it must never keep a process alive.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every identity's CRLs; overlapping calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    for (const identity of this.o.identities()) {
      if (!identity.revocation?.crl) continue;
      for (const { source, bytes } of await this.o.source.currentCrls(identity)) {
        const prev = this.seen.get(source);
        // Same bytes: the caches hand back the same array until they read a new version.
        if (prev?.bytes === bytes && prev.verified) continue;
        await this.process(identity, source, bytes, prev);
      }
    }
  }

  private async process(identity: Identity, source: string, bytes: Uint8Array, prev: Seen | undefined): Promise<void> {
    const verified = await verifiedCrlSerials(bytes, this.o.source.issuers(identity));
    if (!verified.ok) {
      // Logged once per version; tried again each pass (a login may teach the CA that signed it).
      if (prev?.bytes !== bytes) this.o.log.warn({ event: 'crl_refresh_unverified', identity: identity.id, source, problem: verified.problem }, 'CRL not used by the background refresh');
      this.seen.set(source, { bytes, verified: false, serials: prev?.serials });
      return;
    }
    const issuer = dnText(verified.issuerDer);
    const known = prev?.serials;
    const fresh = verified.serials.filter((s) => !known?.has(s));
    let tokens = 0;
    try {
      for (let i = 0; i < fresh.length; i += BATCH) {
        const results = await Promise.all(
          fresh.slice(i, i + BATCH).map((serial) => this.o.revocations.revoke({ issuer, serial }, { source: 'crl', by: source, onlyKnown: true })),
        );
        tokens += results.reduce((n, r) => n + r.tokens, 0);
      }
    } catch (e) {
      // Not remembered: the whole version is tried again next pass (revoke is idempotent).
      this.o.log.error({ event: 'crl_refresh_failed', identity: identity.id, source, err: (e as Error).message }, 'CRL refresh could not revoke tokens');
      return;
    }
    this.seen.set(source, { bytes, verified: true, serials: new Set(verified.serials) });
    this.o.log.info({ event: 'crl_refreshed', identity: identity.id, source, entries: verified.serials.length, newEntries: fresh.length, revokedTokens: tokens }, 'CRL refreshed');
  }
}
