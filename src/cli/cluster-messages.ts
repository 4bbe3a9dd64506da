/**
 * What a cluster primary and its workers say to each other over the node:cluster IPC channel.
 * Every message carries `certgate` so that anything else on the channel (prom-client, Node's own
 * cluster messages) is ignored.
 */
export type ToWorker = { certgate: 'reload'; trigger: 'sighup' | 'file' } | { certgate: 'drain' };

export type ToPrimary = { certgate: 'ready'; httpPort: number; tlsPort?: number } | { certgate: 'startup_failed'; message: string };

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && ((m as ToWorker).certgate === 'reload' || (m as ToWorker).certgate === 'drain');
}

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && ((m as ToPrimary).certgate === 'ready' || (m as ToPrimary).certgate === 'startup_failed');
}
