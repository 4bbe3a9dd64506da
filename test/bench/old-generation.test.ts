import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/terminators.js';

/**
 * `npm run bench:oldgen` keeps its output promise (README "Operating it"). Run with a one-second
 * warm-up and measurement: this checks what is printed and that nothing failed, never a figure's size.
 */
describe('npm run bench:oldgen', () => {
  it.each(['forward', 'login_warm'])('%s: the bytes per request that reached the old generation, by allocating function', (scenario) => {
    const r = spawnSync(process.execPath, [join('bench', 'old-generation.mjs'), scenario, '1'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_WARMUP_SECONDS: '1' },
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toEqual({ scenario, requests: expect.any(Number), errors: 0, old_generation_bytes_per_request: expect.any(Number) });
    expect(out.requests).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/old generation: \d+ bytes per request, of which:\n +\d+  \S/);
  }, 120_000);
});
