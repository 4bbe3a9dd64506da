import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/load.js';
import { watchConfigFile } from '../live/watch-file.js';
import { KeyRing } from '../token/keys.js';
import { missingStartEnv, missingStartFlags } from '../util/heap-settings.js';
import { createLogger, stdoutIsShared } from '../util/logger.js';
import { isToPrimary, type ToWorker } from './cluster-messages.js';
import { MetricsGatherer } from './cluster-metrics.js';

/** A worker that dies is replaced at once, at most this many times in any minute; then later. */
export const MAX_RESTARTS_PER_MINUTE = 5;
const MINUTE_MS = 60_000;
/** What a worker's drain may take beyond server.shutdownTimeout (closing the store) before it is killed. */
const DRAIN_MARGIN_MS = 5_000;

export interface PrimaryOptions {
  file: string;
  config: Config;
  workers: number;
}

/**
 * The primary of `certgate serve --workers N`: it serves nothing itself. It forks N workers
 * (src/cli/cluster-worker.ts) that share the HTTP and the direct TLS listener through
 * node:cluster, and it is the process to signal:
 * - SIGHUP → every worker reloads the config file;
 * - SIGTERM, SIGINT → every worker drains; the primary exits 0 when all have exited;
 * - a worker that dies after startup is replaced (at most MAX_RESTARTS_PER_MINUTE a minute;
 *   beyond that the replacement waits, logged); a worker that dies before the first N were all
 *   ready stops everything, and the primary exits 1 with its message — never a fork loop.
 *
 * `/metrics`, whichever worker answers it, is every worker's summed: the worker asks the primary,
 * which gathers them (src/cli/cluster-metrics.ts).
 *
 * The primary watches the config file, not each worker: one watcher instead of N, and every
 * worker reloads on the same event, so a burst of editor writes cannot leave workers on different
 * versions for longer than one debounce. A worker re-reads the file itself and skips an unchanged
 * text, so the primary needs no parsing of its own.
 */
export async function servePrimary(o: PrimaryOptions): Promise<void> {
  stdoutIsShared();
  const log = createLogger({ level: o.config.log.level, base: { svc: 'certgate', role: 'primary' } });
  // Every worker reads keys.dir itself. The first key is written here, once, before any worker
  // exists: N workers finding an empty directory would each write a first key.
  const ring = await KeyRing.open({ dir: o.config.keys.dir, log, create: { algorithm: o.config.keys.algorithm } });
  ring.close();

  const live = new Map<number, Worker>();
  const ready = new Set<number>();
  const startupFailures = new Map<number, string>();
  const restarts: number[] = [];
  let started = false;
  let stopping = false;
  let exitCode = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  const tell = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m);
  };
  const broadcast = (m: ToWorker) => live.forEach((w) => tell(w, m));
  const watch = watchConfigFile(o.file, () => broadcast({ certgate: 'reload', trigger: 'file' }), log);

  // Workers get certgate's start-time memory settings (the young generation's size, which V8 fixes
  // when a process starts; glibc's arena limit) unless the operator chose them: whatever started
  // the primary.
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...missingStartFlags()] });
  const workerEnv = missingStartEnv();
  const fork = () => {
    const w = cluster.fork(workerEnv);
    live.set(w.id, w);
    log.info({ event: 'worker_forked', worker: w.id, pid: w.process.pid }, 'worker started');
  };

  const finish = () => {
    clearTimeout(killTimer);
    log.info({ event: 'stopped', exitCode }, 'certgate stopped');
    process.exit(exitCode);
  };

  const shutdown = (signal: string, code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    watch.close();
    clearTimeout(restartTimer);
    log.info({ event: 'shutdown', signal, workers: live.size }, 'certgate stopping: every worker drains');
    broadcast({ certgate: 'drain' });
    // Each worker bounds its own drain by shutdownTimeout; this only catches one that hangs.
    killTimer = setTimeout(() => live.forEach((w) => w.process.kill('SIGKILL')), o.config.server.shutdownTimeout * 1000 + DRAIN_MARGIN_MS);
    if (live.size === 0) finish();
  };

  /** Forks a replacement now, or when the oldest restart of the last minute leaves the window. */
  const replace = () => {
    if (stopping) return;
    const now = Date.now();
    while (restarts.length > 0 && restarts[0]! <= now - MINUTE_MS) restarts.shift();
    if (restarts.length < MAX_RESTARTS_PER_MINUTE) {
      restarts.push(now);
      fork();
      return;
    }
    const waitMs = restarts[0]! + MINUTE_MS - now;
    log.error({ event: 'worker_restart_delayed', waitMs, limit: MAX_RESTARTS_PER_MINUTE }, `${MAX_RESTARTS_PER_MINUTE} workers restarted within a minute: the next restart waits`);
    clearTimeout(restartTimer);
    restartTimer = setTimeout(replace, waitMs);
  };

  const metrics = new MetricsGatherer(() => [...ready].flatMap((id) => live.get(id) ?? []));

  cluster.on('message', (w, m) => {
    if (!isToPrimary(m)) return;
    if (m.certgate === 'collected') return metrics.collected(w.id, m.id, m.metrics);
    if (m.certgate === 'metrics') {
      metrics.sum().then(
        (text) => tell(w, { certgate: 'metrics', id: m.id, text }),
        (e: Error) => tell(w, { certgate: 'metrics', id: m.id, error: e.message }),
      );
      return;
    }
    if (m.certgate === 'startup_failed') {
      startupFailures.set(w.id, m.message);
      return;
    }
    ready.add(w.id);
    if (started) log.info({ event: 'worker_ready', worker: w.id, pid: w.process.pid }, 'replacement worker ready');
    else if (ready.size === o.workers) {
      started = true;
      log.info({ event: 'workers_ready', workers: o.workers, http: m.httpPort, tls: m.tlsPort }, `certgate listening with ${o.workers} workers`);
    }
  });

  cluster.on('exit', (w, code, signal) => {
    live.delete(w.id);
    metrics.gone(w.id);
    const wasReady = ready.delete(w.id);
    const err = startupFailures.get(w.id);
    startupFailures.delete(w.id);
    if (stopping) {
      if (live.size === 0) finish();
      return;
    }
    const fields = { worker: w.id, pid: w.process.pid, code, signal, ready: wasReady, err };
    if (!started) {
      log.error({ event: 'worker_start_failed', ...fields }, 'a worker could not start: stopping');
      process.stderr.write(`certgate: worker ${w.id} could not start${err ? `: ${err}` : ` (exit code ${code}, signal ${signal})`}\n`);
      shutdown('worker_start_failed', 1);
      return;
    }
    log.error({ event: 'worker_exited', ...fields }, 'a worker died: replacing it');
    replace();
  });

  process.on('SIGHUP', () => {
    log.info({ event: 'reload_requested', trigger: 'sighup', workers: live.size }, 'SIGHUP: every worker reloads');
    broadcast({ certgate: 'reload', trigger: 'sighup' });
  });
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));

  log.info({ event: 'workers_starting', workers: o.workers, pid: process.pid }, `certgate starting ${o.workers} workers`);
  for (let i = 0; i < o.workers; i++) fork();
}
