/**
 * What a cluster primary and its workers say to each other over the node:cluster IPC channel.
 * Every message carries `certgate` so that anything else on the channel (prom-client, Node's own
 * cluster messages) is ignored.
 */
import type { MetricsJson } from './cluster-metrics.js';

export type ToWorker =
  | { certgate: 'reload'; trigger: 'sighup' | 'file' }
  | { certgate: 'drain' }
  /** Send your registry's metrics (gathering `id`, see cluster-metrics.ts). */
  | { certgate: 'collect'; id: number }
  /** The answer to this worker's `metrics` request `id`: every worker's metrics summed, or why not. */
  | { certgate: 'metrics'; id: number; text?: string; error?: string };

export type ToPrimary =
  | { certgate: 'ready'; httpPort: number; tlsPort?: number }
  | { certgate: 'startup_failed'; message: string }
  | { certgate: 'collected'; id: number; metrics: MetricsJson }
  /** A worker serving `/metrics` asks for every worker's (`id`: the worker's own request number). */
  | { certgate: 'metrics'; id: number };

const TO_WORKER: ReadonlySet<unknown> = new Set(['reload', 'drain', 'collect', 'metrics']);
const TO_PRIMARY: ReadonlySet<unknown> = new Set(['ready', 'startup_failed', 'collected', 'metrics']);

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && TO_WORKER.has((m as ToWorker).certgate);
}

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && TO_PRIMARY.has((m as ToPrimary).certgate);
}
