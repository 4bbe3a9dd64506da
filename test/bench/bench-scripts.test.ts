import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/terminators.js';

/**
 * The bench and soak scripts keep their output promises (README "Operating it"). Run with tiny
 * durations: these tests check what is printed and that nothing failed, never a figure's size.
 */
const node = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

describe('npm run bench / npm run soak', () => {
  it('bench: the last line carries every figure, the floors and ratio_to_floor', () => {
    const r = node([join('bench', 'run.mjs')], { BENCH_SECONDS: '1', BENCH_WARMUP_SECONDS: '1', BENCH_ROUNDS: '1', BENCH_COLD: '100', BENCH_CONNECTIONS: '4' });
    expect(r.status, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(Object.keys(out)).toEqual(['baseline', 'forward', 'login_warm', 'login_cold', 'forward_memory', 'rss_mb', 'workers', 'machine']);
    for (const k of ['baseline', 'forward', 'login_warm', 'login_cold', 'forward_memory']) {
      expect(out[k]).toMatchObject({ rps: expect.any(Number), p50_ms: expect.any(Number), p99_ms: expect.any(Number), errors: 0, ratio: expect.any(Number) });
    }
    for (const k of ['forward', 'login_warm', 'login_cold']) {
      expect(out[k].ratio_to_floor).toBeGreaterThan(0);
      expect(out[k].ratio_to_floor_rounds).toHaveLength(1);
      expect(out[k].floor).toMatchObject({ rps: expect.any(Number), errors: 0, busy: expect.any(Number) });
      // CPU per request of the gateway alone and with redis-server's counted, against the floor's.
      const withRedis = (f: { cpu_us_per_request: number; redis_cpu_us_per_request: number }) => f.cpu_us_per_request + f.redis_cpu_us_per_request;
      expect(out[k].cpu_ratio_to_floor).toBeCloseTo(out[k].floor.cpu_us_per_request / out[k].cpu_us_per_request, 2);
      expect(out[k].total_cpu_ratio_to_floor).toBeCloseTo(withRedis(out[k].floor) / withRedis(out[k]), 2);
      expect(out[k].load_generator_bound).toBe(out[k].floor.busy < 0.85);
    }
    expect(out.rss_mb).toBeGreaterThan(0);
    for (const k of ['forward', 'login_warm']) {
      expect(out.workers[k]).toMatchObject({ workers_1: { rps: expect.any(Number), errors: 0 }, workers_2: { rps: expect.any(Number), errors: 0 }, speedup: expect.any(Number) });
    }
  }, 240_000);

  it('bench --rss: per process of the gateway, peak, sampled max, RSS at 100k and at the end, their growth, and whether the target holds', () => {
    const r = node([join('bench', 'run.mjs'), '--rss', '10000'], { BENCH_CONNECTIONS: '4' });
    expect(r.status, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(out).toMatchObject({ requests: 10000, errors: 0, target: { rss_limit_mb: 150, growth_limit_pct: 10, holds: false } });
    // One process serves (no --workers): it is the one reported.
    expect(out.processes.map((p: { role: string }) => p.role)).toEqual(['gateway']);
    for (const p of out.processes) {
      expect(p).toEqual({
        role: expect.any(String),
        pid: expect.any(Number),
        rss_mb_peak: expect.any(Number),
        rss_mb_max_sampled: expect.any(Number),
        rss_mb_at_100k: expect.any(Number),
        rss_mb_end: expect.any(Number),
        growth_pct_100k_to_end: expect.any(Number),
        window_max_mb_at_100k: expect.any(Number),
        window_max_mb_end: expect.any(Number),
        growth_pct_window_max: expect.any(Number),
      });
      expect(p.rss_mb_peak).toBeGreaterThanOrEqual(p.rss_mb_max_sampled);
    }
    expect(out.curve).toEqual([{ requests: 10000, rss_mb: [expect.any(Number)], batch_max_rss_mb: [expect.any(Number)], heap_total_mb: expect.any(Number), heap_used_mb: expect.any(Number) }]);
    expect(out.curve[0].heap_used_mb).toBeGreaterThan(0);
  }, 240_000);

  it('soak: errors by kind, RSS and p99 over time, no unexpected error across a Redis restart', () => {
    const r = node([join('bench', 'soak.mjs'), '--minutes', '0.4', '--restart-every', '8', '--certificates', '40', '--concurrency', '4']);
    expect(r.status, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(out.unexpected_errors).toBe(0);
    expect(out.errors.unexpected).toEqual({});
    expect(r.stderr).toMatch(/redis restarted \(1\)/);
    expect(out.curve.length).toBeGreaterThanOrEqual(2);
    for (const p of out.curve) expect(p).toMatchObject({ t_s: expect.any(Number), p99_ms: expect.anything(), rss_mb: [expect.any(Number), expect.any(Number)] });
    expect(out.operations.login).toBeGreaterThan(0);
    expect(out.operations.forward).toBeGreaterThan(0);
  }, 240_000);
});
