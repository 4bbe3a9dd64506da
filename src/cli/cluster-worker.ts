import cluster from 'node:cluster';
import { Gauge } from 'prom-client';
import { ConfigError } from '../config/env.js';
import { loadConfigFile } from '../config/load.js';
import { startGateway, type RunningGateway } from '../http/server.js';
import { stdoutIsShared } from '../util/logger.js';
import { isToWorker, type ToPrimary } from './cluster-messages.js';

const send = (m: ToPrimary) => process.send?.(m);
/** Resolves once the message is handed to the channel: the worker may exit right after. */
const sendNow = (m: ToPrimary) => new Promise<void>((resolve) => (process.send ? process.send(m, undefined, {}, () => resolve()) : resolve()));

/**
 * One worker of `certgate serve --workers N`: the gateway exactly as a single process runs it,
 * on listeners node:cluster shares with its siblings. Its primary is the one that is signalled
 * (src/cli/cluster-primary.ts): it forwards SIGHUP and file changes as `reload` and SIGTERM and
 * SIGINT as `drain`. A SIGTERM or SIGINT sent to the worker itself (a whole process group, as a
 * terminal's Ctrl-C or systemd does) drains it too — draining is idempotent. SIGHUP sent to the
 * worker itself is ignored: the group's SIGHUP reaches the primary as well, which tells every
 * worker once.
 */
export async function serveWorker(file: string): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  stdoutIsShared();
  let running: RunningGateway | undefined;
  let stopAsked = false;
  let stopping = false;
  const stop = async (why: string) => {
    stopAsked = true;
    if (!running || stopping) return;
    stopping = true;
    const gw = running;
    gw.gateway.log.info({ event: 'shutdown', signal: why }, 'certgate worker stopping');
    const { forced } = await gw.drain();
    gw.gateway.log.info({ event: 'stopped', forced }, 'certgate worker stopped');
    process.exit(0);
  };
  process.on('SIGHUP', () => undefined);
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('message', (m) => {
    if (!isToWorker(m)) return;
    if (m.certgate === 'drain') void stop('primary');
    // A reload asked before the gateway runs is moot: startup reads the file as it is now.
    else void running?.reload(m.trigger);
  });
  try {
    const config = loadConfigFile(file);
    running = await startGateway(config, { configFile: file, logFields: { worker: id }, watchConfigFile: false });
  } catch (e) {
    await sendNow({ certgate: 'startup_failed', message: e instanceof ConfigError ? `invalid configuration: ${e.message}` : ((e as Error)?.message ?? String(e)) });
    throw e;
  }
  // /metrics is per worker (each has its own registry): this says which one answered.
  new Gauge({ name: 'certgate_worker_info', help: 'The cluster worker that answered this scrape', labelNames: ['worker', 'pid'], registers: [running.gateway.metrics.registry] }).set(
    { worker: String(id), pid: String(process.pid) },
    1,
  );
  send({ certgate: 'ready', httpPort: running.httpPort, tlsPort: running.tlsPort });
  if (stopAsked) void stop('primary');
}
