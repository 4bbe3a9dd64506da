import cluster from 'node:cluster';
import { Gauge } from 'prom-client';
import { ConfigError } from '../config/env.js';
import { loadConfigFile } from '../config/load.js';
import { startGateway, type RunningGateway } from '../http/server.js';
import { stdoutIsShared } from '../util/logger.js';
import { isToWorker, type ToPrimary } from './cluster-messages.js';
import { SummedMetrics } from './cluster-metrics.js';

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
  const summed = new SummedMetrics(send);
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
    else if (m.certgate === 'metrics') summed.answered(m);
    else if (m.certgate === 'collect') {
      const id = m.id;
      // A registry that cannot be read answers nothing: the primary's gathering then fails the
      // scrape (503) rather than sum the other workers' counters as if they were all.
      (running ? running.gateway.metrics.registry.getMetricsAsJSON() : Promise.resolve([])).then(
        (metrics) => send({ certgate: 'collected', id, metrics }),
        () => undefined,
      );
    }
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
  // One line per worker in the sum: which workers the gateway has.
  const registry = running.gateway.metrics.registry;
  new Gauge({ name: 'certgate_worker_info', help: 'A worker of this gateway (serve --workers N)', labelNames: ['worker', 'pid'], registers: [registry] }).set({ worker: String(id), pid: String(process.pid) }, 1);
  // Added after the sum, so not summed: which worker answered this scrape.
  const answeredBy = [
    '# HELP certgate_scrape_worker_info The worker of this gateway that answered this scrape',
    '# TYPE certgate_scrape_worker_info gauge',
    `certgate_scrape_worker_info{worker="${id}",pid="${process.pid}"} 1`,
    '',
  ].join('\n');
  running.gateway.metrics.exposition = async () => {
    const text = await summed.get();
    return text === '' || text.endsWith('\n') ? text + answeredBy : `${text}\n${answeredBy}`;
  };
  send({ certgate: 'ready', httpPort: running.httpPort, tlsPort: running.tlsPort });
  if (stopAsked) void stop('primary');
}
