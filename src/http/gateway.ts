import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { VerifiedPathCache } from '../identity/path-cache.js';
import type { LeafAdmission } from './leaf-admission.js';
import type { CompiledIdentity } from '../identity/policy.js';
import type { LiveController } from '../live/controller.js';
import type { LiveHolder } from '../live/state.js';
import type { StoreHealth } from '../live/store-health.js';
import type { ParsedCertCache } from '../pki/parsing/parse-cache.js';
import type { CompiledProxies } from '../proxy/trusted.js';
import type { CertificateRevocations } from '../revocation/certificate-revocations.js';
import type { RevocationChecker } from '../revocation/checker.js';
import type { CrlWatcher } from '../revocation/crl-watcher.js';
import type { TokenStore } from '../store/types.js';
import type { KeyRing } from '../token/keys.js';
import type { TokenService } from '../token/service.js';
import type { Clock } from '../util/clock.js';
import type { Metrics } from './metrics.js';

/**
 * Everything the HTTP layer needs (see src/http/server.ts). What a reload can change lives in the
 * live state (`live`); a request reads it through liveOf(ctx), the snapshot it took at entry.
 */
export interface Gateway {
  /** The current live state; swapped whole by `control` (src/live). */
  live: LiveHolder;
  /** Reloads (SIGHUP, file change) and the API-identity sync. */
  control: LiveController;
  /** Shutdown progress: /readyz answers 503 once draining. */
  lifecycle: { draining: boolean };
  /** Store outage / recovery transitions (audited). */
  health: StoreHealth;
  /** Read-through views of the CURRENT live state, for code outside a request. */
  readonly config: Config;
  readonly identities: readonly CompiledIdentity[];
  readonly identityById: ReadonlyMap<string, CompiledIdentity>;
  readonly proxies: CompiledProxies;
  /** Presented certificates, parsed once (bounded by entries and bytes). */
  certs: ParsedCertCache;
  /** Which leaves `certs` keeps: from their second login on. */
  leafAdmission: LeafAdmission;
  /** Certification paths verified by earlier logins (dropped when revocation data changes). */
  paths: VerifiedPathCache;
  store: TokenStore;
  keys: KeyRing;
  tokens: TokenService;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** CRL and OCSP checking at login and renew, with its caches (one per gateway); a certificate it finds revoked loses its tokens. */
  revocation: RevocationChecker;
  /** Revoking a certificate: its tokens and its logins (admin API, CRL, OCSP). */
  certRevocations: CertificateRevocations;
  /** Background CRL refresh (started with the listeners). */
  crlWatcher: CrlWatcher;
}
