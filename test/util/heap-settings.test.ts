import { describe, expect, it } from 'vitest';
import { appliedHeapSettings, applyHeapSettings, HEAP_GROWING_PERCENT, missingStartEnv, missingStartFlags, YOUNG_GENERATION_FLAG } from '../../src/util/heap-settings.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTGATE_MAIN, startCertgate } from '../helpers/certgate-process.js';
import { makeTempDir, startRedis } from '../helpers/launcher.js';
import { until } from '../helpers/until.js';

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

  it(`starts workers with ${YOUNG_GENERATION_FLAG} unless the operator chose a semi-space size`, () => {
    expect(missingStartFlags([], '')).toEqual([YOUNG_GENERATION_FLAG]);
    expect(missingStartFlags(['--max-old-space-size=512'], '--trace-gc')).toEqual([YOUNG_GENERATION_FLAG]);
    expect(missingStartFlags(['--max-semi-space-size=32'], '')).toEqual([]);
    expect(missingStartFlags([], '--max_semi_space_size=4')).toEqual([]);
    expect(missingStartFlags(['--min-semi-space-size=1'], '')).toEqual([]);
    expect(appliedHeapSettings([YOUNG_GENERATION_FLAG])).toContain(YOUNG_GENERATION_FLAG);
    expect(appliedHeapSettings(['--max-semi-space-size=32'])).not.toContain('semi');
  });

  it(`npm start and the Docker image start the gateway with ${YOUNG_GENERATION_FLAG}`, () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${YOUNG_GENERATION_FLAG} dist/cli/main.js serve`);
    expect(readFileSync('Dockerfile', 'utf8')).toContain(`ENTRYPOINT ["node", "${YOUNG_GENERATION_FLAG}", "dist/cli/main.js"]`);
    expect(readFileSync('Dockerfile', 'utf8')).toContain('ENV MALLOC_ARENA_MAX=2');
    expect(missingStartEnv({})).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(missingStartEnv({ MALLOC_ARENA_MAX: '8' })).toEqual({});
  });

  it(`${YOUNG_GENERATION_FLAG} halves the young generation V8 grows to under a steady stream of survivors`, () => {
    const program = `
      const v8 = require('node:v8');
      let keep = [], peak = 0;
      for (let r = 0; r < 400; r++) {
        for (let i = 0; i < 20000; i++) keep.push({ s: 'y'.repeat(80) + i, n: [i] });
        if (keep.length > 200000) keep = keep.slice(100000);
        peak = Math.max(peak, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
      }
      process.stdout.write(String(peak));`;
    const peak = (flags: string[]) => Number(spawnSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8' }).stdout);
    const [bounded, free] = [peak([YOUNG_GENERATION_FLAG]), peak([])];
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(bounded).toBeLessThanOrEqual(free / 2);
  }, 60_000);

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

  it(`forks every worker of serve --workers with ${YOUNG_GENERATION_FLAG} and MALLOC_ARENA_MAX=2, which the primary was not started with`, async () => {
    const redis = await startRedis();
    const gw = await startCertgate({ config: { ...config, store: { url: redis.url } }, args: ['--workers', '2'] });
    try {
      const listeningLines = () => gw.process.output().split('\n').filter((l) => l.includes('"event":"listening"'));
      const lines = await until('both workers listening', () => (listeningLines().length >= 2 ? listeningLines() : undefined), 20_000);
      expect(lines).toHaveLength(2);
      for (const l of lines) expect((JSON.parse(l) as { v8: string }).v8).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT} ${YOUNG_GENERATION_FLAG} MALLOC_ARENA_MAX=2`);
    } finally {
      await gw.stop();
      await redis.stop();
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
