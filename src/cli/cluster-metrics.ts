import type { Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ToPrimary, ToWorker } from './cluster-messages.js';

/** One registry's metrics as `Registry.getMetricsAsJSON()` gives them: what crosses the cluster channel. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** How long the primary waits for a worker's metrics before the scrape fails (503 metrics_unavailable). */
export const GATHER_TIMEOUT_MS = 5_000;

interface Gathering {
  waiting: Set<number>;
  parts: MetricsJson[];
  finish: (e?: Error) => void;
}

/**
 * The primary's side of `/metrics` under `serve --workers N`: whichever worker a scrape reaches,
 * it answers every worker's metrics, summed by prom-client's AggregatorRegistry.aggregate
 * (counters add up; `certgate_worker_info` keeps one line per worker). The primary asks the
 * workers that are ready (a starting worker has nothing to count yet and may not listen yet), and
 * one that exits meanwhile is no longer waited for. One gathering at a time: scrapes arriving
 * while it runs get its answer, so a flood of scrapes costs the workers what one scrape at a time
 * does.
 */
export class MetricsGatherer {
  private next = 0;
  private readonly open = new Map<number, Gathering>();
  private current: Promise<string> | undefined;

  constructor(
    private readonly readyWorkers: () => Worker[],
    private readonly timeoutMs = GATHER_TIMEOUT_MS,
  ) {}

  /** Every ready worker's metrics, summed, in Prometheus text. */
  sum(): Promise<string> {
    return (this.current ??= this.gather().finally(() => {
      this.current = undefined;
    }));
  }

  /** A worker's answer to gathering `id`. */
  collected(workerId: number, id: number, metrics: MetricsJson): void {
    const g = this.open.get(id);
    if (!g || !g.waiting.delete(workerId)) return;
    g.parts.push(metrics);
    if (g.waiting.size === 0) g.finish();
  }

  /** A worker exited: gatherings under way stop waiting for it. */
  gone(workerId: number): void {
    for (const g of [...this.open.values()]) if (g.waiting.delete(workerId) && g.waiting.size === 0) g.finish();
  }

  private gather(): Promise<string> {
    const id = this.next++;
    const targets = this.readyWorkers().filter((w) => w.isConnected());
    return new Promise<string>((resolve, reject) => {
      const g: Gathering = {
        waiting: new Set(targets.map((w) => w.id)),
        parts: [],
        finish: (e) => {
          clearTimeout(timer);
          this.open.delete(id);
          if (e) reject(e);
          else AggregatorRegistry.aggregate(g.parts).metrics().then(resolve, reject);
        },
      };
      const timer = setTimeout(() => g.finish(new Error(`worker ${[...g.waiting].join(', ')} did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.open.set(id, g);
      if (g.waiting.size === 0) return g.finish();
      const ask: ToWorker = { certgate: 'collect', id };
      for (const w of targets) w.send(ask);
    });
  }
}

/**
 * A worker's side of `/metrics`: asks the primary for every worker's sum. Scrapes arriving while
 * one is asked share its answer (one request at a time, as the primary gathers one at a time).
 */
export class SummedMetrics {
  private next = 0;
  private readonly waiting = new Map<number, (m: { text?: string; error?: string }) => void>();
  private asking: Promise<string> | undefined;

  constructor(
    private readonly send: (m: ToPrimary) => void,
    private readonly timeoutMs = 2 * GATHER_TIMEOUT_MS,
  ) {}

  get(): Promise<string> {
    return (this.asking ??= new Promise<string>((resolve, reject) => {
      const id = this.next++;
      const answer = (m: { text?: string; error?: string }) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        if (m.text !== undefined) resolve(m.text);
        else reject(new Error(m.error ?? 'no answer'));
      };
      const timer = setTimeout(() => answer({ error: `the primary did not answer within ${this.timeoutMs} ms` }), this.timeoutMs);
      this.waiting.set(id, answer);
      this.send({ certgate: 'metrics', id });
    }).finally(() => {
      this.asking = undefined;
    }));
  }

  /** The primary's answer to request `id`. */
  answered(m: { id: number; text?: string; error?: string }): void {
    this.waiting.get(m.id)?.(m);
  }
}
