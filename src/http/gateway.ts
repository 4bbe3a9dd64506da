import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { CompiledIdentity } from '../identity/policy.js';
import type { ParsedCertCache } from '../pki/parse-cache.js';
import type { CompiledProxies } from '../proxy/trusted.js';
import type { CertificateRevocations } from '../revocation/certificate-revocations.js';
import type { RevocationChecker } from '../revocation/checker.js';
import type { CrlWatcher } from '../revocation/crl-watcher.js';
import type { TokenStore } from '../store/types.js';
import type { KeyRing } from '../token/keys.js';
import type { TokenService } from '../token/service.js';
import type { Clock } from '../util/clock.js';
import type { Metrics } from './metrics.js';

/** Everything the HTTP layer needs, built once at startup (see src/cli/serve.ts). */
export interface Gateway {
  config: Config;
  identities: CompiledIdentity[];
  identityById: ReadonlyMap<string, CompiledIdentity>;
  /** Presented certificates, parsed once (bounded by entries and bytes). */
  certs: ParsedCertCache;
  proxies: CompiledProxies;
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
