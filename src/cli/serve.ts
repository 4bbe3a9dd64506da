import cluster from 'node:cluster';
import { relative } from 'node:path';
import { ConfigError } from '../config/env.js';
import { loadConfigFile } from '../config/load.js';
import { memoryStoreWorkersProblem } from '../config/schema.js';
import { startGateway, type RunningGateway } from '../http/server.js';
import { servePrimary } from './cluster-primary.js';
import { serveWorker } from './cluster-worker.js';
import { ensureDevPki } from './dev-pki.js';
import { applyHeapSettings } from '../util/heap-settings.js';
import { DEFAULT_CONFIG, DEV_PKI_DIR } from './paths.js';

export interface ServeOptions {
  /** `--workers N`: overrides server.workers. */
  workers?: number;
}

/** Parses `--workers N` (1–256). */
export function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256) throw new Error(`--workers must be a whole number from 1 to 256, not "${value}"`);
  return n;
}

export async function serve(configFile: string | undefined, opts: ServeOptions = {}): Promise<void> {
  const file = configFile ?? process.env.CERTGATE_CONFIG ?? DEFAULT_CONFIG;
  applyHeapSettings();
  // A cluster worker runs this same command line; its primary did everything before the fork.
  if (cluster.isWorker) return serveWorker(file);
  const embedded = file === DEFAULT_CONFIG;
  if (embedded && (await ensureDevPki(DEV_PKI_DIR))) {
    process.stderr.write(`certgate: generated a development PKI in ${DEV_PKI_DIR}\n`);
  }
  // Installed first: a SIGHUP during startup must not kill the process (its default action).
  let running: RunningGateway | undefined;
  process.on('SIGHUP', () => void running?.reload('sighup'));
  const config = loadConfigFile(file);
  const workers = opts.workers ?? config.server.workers;
  const problem = memoryStoreWorkersProblem(workers, config.store);
  if (problem) throw new ConfigError(['server', 'workers'], opts.workers === undefined ? problem : `${problem} (--workers ${workers} sets server.workers)`);
  if (workers > 1) return servePrimary({ file, config, workers });
  running = await startGateway(config, { configFile: file });
  if (embedded && running.tlsPort) {
    const rel = (f: string) => relative(process.cwd(), `${DEV_PKI_DIR}/${f}`) || f;
    process.stderr.write(
      `\ncertgate is running on the embedded default (${relative(process.cwd(), file)}).\nLog in as identity "dev" with:\n\n` +
        `  curl --cert ${rel('client.pem')} --key ${rel('client-key.pem')} --cacert ${rel('ca.pem')} \\\n` +
        `       -X POST https://127.0.0.1:${running.tlsPort}/api/v1/auth/tls-cert-auth/login\n\n`,
    );
  }
  // SIGHUP reloads the config file (so does a change of it); SIGTERM and SIGINT drain, then exit 0.
  const gateway = running;
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    gateway.gateway.log.info({ event: 'shutdown', signal }, 'certgate stopping');
    const { forced } = await gateway.drain();
    gateway.gateway.log.info({ event: 'stopped', forced }, 'certgate stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
