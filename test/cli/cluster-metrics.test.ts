import type { Worker } from 'node:cluster';
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ToPrimary, ToWorker } from '../../src/cli/cluster-messages.js';
import { GATHER_TIMEOUT_MS, MetricsGatherer, SummedMetrics, type MetricsJson } from '../../src/cli/cluster-metrics.js';

/**
 * The primary's gathering of /metrics under `serve --workers N`, with stand-ins for node:cluster's
 * Worker handles (what the gatherer sends is recorded; answers are given by hand). The real process
 * tree is in workers.test.ts.
 */
function workers(n: number) {
  const sent = new Map<number, ToWorker[]>();
  const list = Array.from({ length: n }, (_, i) => {
    const id = i + 1;
    sent.set(id, []);
    return { id, isConnected: () => true, send: (m: ToWorker) => void sent.get(id)!.push(m) } as unknown as Worker;
  });
  return { list, sent };
}

/** One worker's registry as it would answer: its logins counted, its worker_info line. */
async function workerMetrics(worker: number, logins: number): Promise<MetricsJson> {
  const registry = new Registry();
  new Counter({ name: 'certgate_logins_total', help: 'h', labelNames: ['outcome'], registers: [registry] }).inc({ outcome: 'success' }, logins);
  new Gauge({ name: 'certgate_worker_info', help: 'h', labelNames: ['worker'], registers: [registry] }).set({ worker: String(worker) }, 1);
  return registry.getMetricsAsJSON();
}

const idOf = (m: ToWorker | undefined) => (m && m.certgate === 'collect' ? m.id : -1);

describe('MetricsGatherer (the primary\'s side of /metrics with workers)', () => {
  it('sums every ready worker\'s counters and keeps one worker_info line per worker', async () => {
    const { list, sent } = workers(2);
    const g = new MetricsGatherer(() => list);
    const text = g.sum();
    const id = idOf(sent.get(1)![0]);
    expect(idOf(sent.get(2)![0])).toBe(id);
    g.collected(1, id, await workerMetrics(1, 3));
    g.collected(2, id, await workerMetrics(2, 4));
    const out = await text;
    expect(out).toContain('certgate_logins_total{outcome="success"} 7');
    expect(out).toContain('certgate_worker_info{worker="1"} 1');
    expect(out).toContain('certgate_worker_info{worker="2"} 1');
  });

  it('asks each worker once for scrapes that arrive while a gathering runs', async () => {
    const { list, sent } = workers(2);
    const g = new MetricsGatherer(() => list);
    const a = g.sum();
    const b = g.sum();
    expect(sent.get(1)).toHaveLength(1);
    const id = idOf(sent.get(1)![0]);
    for (const w of [1, 2]) g.collected(w, id, await workerMetrics(w, 1));
    expect(await a).toBe(await b);
    // The next scrape gathers anew.
    void g.sum();
    expect(sent.get(1)).toHaveLength(2);
  });

  it('stops waiting for a worker that exits; counts an answer to a finished gathering nowhere', async () => {
    const { list, sent } = workers(2);
    const g = new MetricsGatherer(() => list);
    const text = g.sum();
    const id = idOf(sent.get(1)![0]);
    g.collected(1, id, await workerMetrics(1, 5));
    g.gone(2);
    expect(await text).toContain('certgate_logins_total{outcome="success"} 5');
    g.collected(2, id, await workerMetrics(2, 9)); // late: ignored, nothing thrown
  });

  it('fails the scrape, naming the worker, when one does not answer in time', async () => {
    const { list, sent } = workers(2);
    const g = new MetricsGatherer(() => list, 20);
    const text = g.sum();
    g.collected(1, idOf(sent.get(1)![0]), await workerMetrics(1, 1));
    await expect(text).rejects.toThrow(/worker 2 did not answer within 20 ms/);
    expect(GATHER_TIMEOUT_MS).toBe(5_000); // the README: 'within 5 s'
  });

  it('answers an empty text when no worker is ready yet', async () => {
    const g = new MetricsGatherer(() => []);
    expect((await g.sum()).trim()).toBe('');
  });
});

describe('SummedMetrics (a worker\'s side of /metrics with workers)', () => {
  it('asks the primary once for scrapes that arrive together, and answers each with its text', async () => {
    const asked: ToPrimary[] = [];
    const summed = new SummedMetrics((m) => void asked.push(m));
    const a = summed.get();
    const b = summed.get();
    expect(asked).toEqual([{ certgate: 'metrics', id: 0 }]);
    summed.answered({ id: 0, text: 'certgate_x 1\n' });
    expect([await a, await b]).toEqual(['certgate_x 1\n', 'certgate_x 1\n']);
    void summed.get();
    expect(asked).toHaveLength(2);
  });

  it('fails the scrape with the primary\'s reason, or when the primary does not answer in time', async () => {
    const asked: ToPrimary[] = [];
    const summed = new SummedMetrics((m) => void asked.push(m), 20);
    const refused = summed.get();
    summed.answered({ id: 0, error: 'worker 2 did not answer within 5000 ms' });
    await expect(refused).rejects.toThrow('worker 2 did not answer within 5000 ms');
    await expect(summed.get()).rejects.toThrow(/the primary did not answer within 20 ms/);
  });
});
