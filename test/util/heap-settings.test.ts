import { describe, expect, it } from 'vitest';
import { applyHeapSettings, HEAP_GROWING_PERCENT } from '../../src/util/heap-settings.js';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTGATE_MAIN, startCertgate } from '../helpers/certgate-process.js';
import { makeTempDir } from '../helpers/launcher.js';

/**
 * `certgate serve` bounds how far V8 lets the heap grow past its live size (src/cli/heap-settings.ts),
 * unless the operator chose for themselves; and the setting, applied from inside a running process,
 * really bounds the heap on this Node (a program with a fixed live set and a stream of garbage,
 * compared with and without it: allocation-driven, nothing timed).
 */
describe('heap settings', () => {
  it(`applies --heap-growing-percent=${HEAP_GROWING_PERCENT}, unless the operator set it on node's command line or in NODE_OPTIONS`, () => {
    const set: string[] = [];
    const record = (f: string) => void set.push(f);
    expect(applyHeapSettings([], '', record)).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(applyHeapSettings(['--heap-growing-percent=0'], '', record)).toBeUndefined();
    expect(applyHeapSettings([], '--max-semi-space-size=8 --heap_growing_percent=50', record)).toBeUndefined();
    expect(applyHeapSettings(['--max-old-space-size=512'], '--trace-gc', record)).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(set).toEqual([`--heap-growing-percent=${HEAP_GROWING_PERCENT}`, `--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
  });

  it('set from inside the process, keeps the heap near its live size under a stream of garbage', () => {
    const program = (apply: boolean) => `
      ${apply ? `require('node:v8').setFlagsFromString('--heap-growing-percent=${HEAP_GROWING_PERCENT}');` : ''}
      const live = [];
      for (let i = 0; i < 300000; i++) live.push({ a: 'x'.repeat(40) + i, b: [i] });
      let peak = 0, garbage = [];
      for (let r = 0; r < 250; r++) {
        for (let i = 0; i < 20000; i++) garbage.push({ s: 'y'.repeat(80) + i, n: [i] });
        if (garbage.length > 100000) garbage = [];
        peak = Math.max(peak, process.memoryUsage().heapTotal);
      }
      process.stdout.write(String(peak));`;
    const peak = (apply: boolean) => Number(spawnSync(process.execPath, ['-e', program(apply)], { encoding: 'utf8' }).stdout);
    const [bounded, free] = [peak(true), peak(false)];
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThan(free * 0.75);
  }, 60_000);
});

describe('certgate serve', () => {
  const listening = (output: string) => JSON.parse(output.split('\n').find((l) => l.includes('"event":"listening"'))!) as { v8: string };
  const config = { store: { url: 'memory' }, identities: [] };

  it('runs with the heap setting, and says so when it starts listening', async () => {
    const gw = await startCertgate({ config });
    try {
      expect(listening(gw.process.output()).v8).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    } finally {
      await gw.stop();
    }
  });

  it("leaves the heap to the operator's own flag on node's command line", async () => {
    const dir = makeTempDir('certgate-heap-');
    const file = join(dir, 'certgate.yaml');
    writeFileSync(file, JSON.stringify({ ...config, issuer: 'https://certgate.test', server: { host: '127.0.0.1', port: 0 }, keys: { dir: join(dir, 'keys') } }));
    const child = spawn(process.execPath, ['--heap-growing-percent=0', CERTGATE_MAIN, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('"event":"listening"')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(listening(out).v8).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
