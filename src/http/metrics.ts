import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  logins: Counter<'outcome' | 'code'>;
  tokenChecks: Counter<'outcome' | 'code'>;
  /** Config reloads (SIGHUP, file change) by outcome: success | failure. */
  configReloads: Counter<'outcome'>;
}

/** One registry per gateway instance, so tests can run several in one process. */
export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'certgate_' });
  return {
    registry,
    logins: new Counter({ name: 'certgate_logins_total', help: 'Certificate logins by outcome and error code', labelNames: ['outcome', 'code'], registers: [registry] }),
    tokenChecks: new Counter({ name: 'certgate_token_checks_total', help: 'Bearer-token checks by outcome and error code', labelNames: ['outcome', 'code'], registers: [registry] }),
    configReloads: new Counter({ name: 'certgate_config_reloads_total', help: 'Configuration reloads (SIGHUP or file change) by outcome', labelNames: ['outcome'], registers: [registry] }),
  };
}
