import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /**
   * The text `/metrics` answers: this registry's; in a worker of `serve --workers N`, every
   * worker's, summed by the primary (src/cli/cluster-worker.ts replaces it).
   */
  exposition: () => Promise<string>;
  logins: Counter<'outcome' | 'code'>;
  tokenChecks: Counter<'outcome' | 'code'>;
  /** Config reloads (SIGHUP, file change) by outcome: success | failure. */
  configReloads: Counter<'outcome'>;
  /** Signature verifications run by login path searches, and their cost units (src/pki/path/path-work.ts). */
  pathVerifications: Counter;
  pathWorkUnits: Counter;
}

/** One registry per gateway instance, so tests can run several in one process. */
export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'certgate_' });
  return {
    registry,
    exposition: () => registry.metrics(),
    logins: new Counter({ name: 'certgate_logins_total', help: 'Certificate logins by outcome and error code', labelNames: ['outcome', 'code'], registers: [registry] }),
    tokenChecks: new Counter({ name: 'certgate_token_checks_total', help: 'Bearer-token checks by outcome and error code', labelNames: ['outcome', 'code'], registers: [registry] }),
    configReloads: new Counter({ name: 'certgate_config_reloads_total', help: 'Configuration reloads (SIGHUP or file change) by outcome', labelNames: ['outcome'], registers: [registry] }),
    pathVerifications: new Counter({ name: 'certgate_path_signature_verifications_total', help: 'Signature verifications run while building certificate paths at login', registers: [registry] }),
    pathWorkUnits: new Counter({ name: 'certgate_path_work_units_total', help: 'Cost units (one = an RSA-2048 verification) spent building certificate paths at login', registers: [registry] }),
  };
}
