#!/usr/bin/env node
// certgate benchmark. Starts its own redis-server, certgate gateways and floor servers on
// loopback and drives them with autocannon running in a separate process (bench/load.mjs).
//
// Each certgate figure is measured against its floor (bench/floor.mjs: plain node:http doing the
// least work the path needs with the same libraries): after a warm-up of both, certgate and the
// floor run alternately, BENCH_ROUNDS times each, so background load on a shared machine hits
// both alike. `ratio_to_floor` = certgate rps / floor rps over all rounds; `ratio` (the contract's)
// = rps / baseline rps, the baseline being a bare node:http answer measured in the same run.
//
// Last line: {baseline, forward, login_warm, login_cold, forward_memory, rss_mb, workers, machine};
// each figure {rps, p50_ms, p99_ms, errors, ratio} plus, where a floor exists,
// {ratio_to_floor, ratio_to_floor_rounds, cpu_us_per_request, busy, cpu_ratio_to_floor,
//  total_cpu_ratio_to_floor (redis-server's CPU counted too), load_generator_bound (the floor did
//  not saturate its core: read the CPU ratios, not rps), floor: {rps, p50_ms, p99_ms, errors,
//  cpu_us_per_request, busy}}; workers: {forward, login_warm}, each
// {workers_1, workers_2, speedup}: the same load on 1 and on 2 workers (`serve --workers 2`).
//
//   npm run bench                      the figures above (BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP_SECONDS,
//                                      BENCH_CONNECTIONS, BENCH_COLD, BENCH_ONLY=forward,login_warm,workers)
//   npm run bench -- --rss [N]         RSS under N (default 1,000,000) requests of mixed traffic
//                                      with ever-new certificates (bench/rss.mjs)
import 'reflect-metadata';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTracked, machine, root, runLoad, runMeasured, rssMb, spawnTracked, startFloor, startGateway, startRedis, waitFor, freePort } from './lib.mjs';

if (process.argv.includes('--rss')) {
  await import('./rss.mjs');
  process.exit(0);
}

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const COLD = Number(process.env.BENCH_COLD ?? 2000);
/** BENCH_ONLY=forward,login_warm: measure only those floor scenarios (quicker, for development). */
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const { mintCertificate, generateKeys } = await import(join(root, 'dist/pki/mint.js'));

const LOGIN = '/api/v1/auth/tls-cert-auth/login';
const JSON_POST = { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } };

/** Several runs of one target → one figure: total requests / total seconds, median p50, worst p99. */
function aggregate(runs) {
  const requests = runs.reduce((s, r) => s + r.requests, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const p50s = runs.map((r) => r.p50_ms).sort((a, b) => a - b);
  return {
    rps: Math.round(requests / seconds),
    p50_ms: p50s[Math.floor(p50s.length / 2)],
    p99_ms: Math.max(...runs.map((r) => r.p99_ms)),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    ...(runs[0].cpu_seconds !== undefined
      ? {
          cpu_us_per_request: Math.round((1e6 * runs.reduce((s, r) => s + r.cpu_seconds, 0)) / requests),
          // Share of one core the server used while driven: well under 1, it waited for the load
          // generator, and its rps says more about the generator than about the server.
          busy: Number((runs.reduce((s, r) => s + r.cpu_seconds, 0) / seconds).toFixed(2)),
          redis_cpu_us_per_request: Math.round((1e6 * runs.reduce((s, r) => s + r.redis_cpu_seconds, 0)) / requests),
        }
      : {}),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-'));
try {
  const ca = await mintCertificate({ subject: 'CN=Bench CA', ca: true });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.pem);
  const leaf = await mintCertificate({ subject: 'CN=bench-warm', issuer: ca });
  const header = encodeURIComponent(leaf.pem);
  // login_cold: every certgate request presents a certificate it has never seen (no parse or
  // path cache hit): one set per round and one for the warm-up. The floor caches nothing, so it
  // reuses the first set. One key pair for all: minting stays fast, every certificate differs.
  const keys = await generateKeys('ec-p256');
  const coldFiles = [];
  for (let set = 0; set <= ROUNDS; set++) {
    const list = [];
    for (let i = 0; i < COLD; i++) list.push(encodeURIComponent((await mintCertificate({ subject: `CN=bench-${set}-${i}`, issuer: ca, keys })).pem));
    const f = join(dir, `cold-${set}.json`);
    writeFileSync(f, JSON.stringify(list));
    coldFiles.push(f);
  }

  const redis = await startRedis(dir);
  const gwRedis = await startGateway(dir, 'redis', redis.url, ca.pem);
  const gwMemory = await startGateway(dir, 'memory', 'memory', ca.pem);
  const floors = {
    forward: await startFloor('forward', redis.url),
    login_warm: await startFloor('login_warm', redis.url),
    login_cold: await startFloor('login_cold', redis.url, caFile),
  };

  // Baseline: the cheapest possible HTTP answer on this machine, measured now.
  const basePort = await freePort();
  spawnTracked(process.execPath, ['-e', `require('http').createServer((q,s)=>{s.statusCode=204;s.end()}).listen(${basePort},'127.0.0.1')`], { stdio: 'ignore' });
  await waitFor(`http://127.0.0.1:${basePort}/`);
  const baseUrl = `http://127.0.0.1:${basePort}/`;
  await runLoad({ url: baseUrl, duration: WARMUP, connections: CONNECTIONS });
  const baseline = aggregate([await runLoad({ url: baseUrl, duration: DURATION, connections: CONNECTIONS })]);

  const login = async (gw) => {
    const res = await fetch(gw.url + LOGIN, { method: 'POST', headers: { 'x-ssl-client-cert': header, 'content-type': 'application/json' }, body: '{}' });
    return (await res.json()).accessToken;
  };
  const tRedis = await login(gwRedis);
  const tMemory = await login(gwMemory);

  /** Load descriptions per scenario: certgate's for round i (-1 = warm-up) and the floor's. */
  const scenarios = {
    forward: {
      pids: [gwRedis.pid, floors.forward.pid],
      certgate: () => ({ url: gwRedis.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${tRedis}` }, duration: DURATION }),
      floor: () => ({ url: floors.forward.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${tRedis}` }, duration: DURATION }),
    },
    login_warm: {
      pids: [gwRedis.pid, floors.login_warm.pid],
      certgate: () => ({ ...JSON_POST, url: gwRedis.url + LOGIN, headers: { ...JSON_POST.headers, 'x-ssl-client-cert': header }, duration: DURATION }),
      floor: () => ({ ...JSON_POST, url: floors.login_warm.url + LOGIN, headers: { ...JSON_POST.headers, 'x-ssl-client-cert': header }, duration: DURATION }),
    },
    login_cold: {
      pids: [gwRedis.pid, floors.login_cold.pid],
      certgate: (i) => ({ ...JSON_POST, url: gwRedis.url + LOGIN, amount: COLD, perRequest: { header: 'x-ssl-client-cert', file: coldFiles[i + 1] } }),
      floor: () => ({ ...JSON_POST, url: floors.login_cold.url + LOGIN, amount: COLD, perRequest: { header: 'x-ssl-client-cert', file: coldFiles[0] } }),
    },
  };

  const result = { baseline: { ...baseline, ratio: 1 } };
  const withRatio = (f) => ({ ...f, ratio: Number((f.rps / baseline.rps).toFixed(4)) });
  for (const [name, s] of Object.entries(scenarios)) {
    if (ONLY && !ONLY.has(name)) continue;
    const warm = (d) => (d.duration ? { ...d, duration: WARMUP } : { ...d, amount: Math.min(d.amount, 500) });
    await runLoad({ connections: CONNECTIONS, ...warm(s.certgate(-1)) });
    await runLoad({ connections: CONNECTIONS, ...warm(s.floor()) });
    const mine = [];
    const theirs = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate who goes first, so a drift in background load favours neither.
      const order = i % 2 === 0 ? ['certgate', 'floor'] : ['floor', 'certgate'];
      for (const who of order) {
        const r = await runMeasured(who === 'certgate' ? s.pids[0] : s.pids[1], { connections: CONNECTIONS, ...s[who](i) }, redis.proc.pid);
        (who === 'certgate' ? mine : theirs).push(r);
      }
    }
    const figure = withRatio(aggregate(mine));
    const floor = aggregate(theirs);
    result[name] = {
      ...figure,
      ratio_to_floor: Number((figure.rps / floor.rps).toFixed(3)),
      ratio_to_floor_rounds: mine.map((m, i) => Number((m.rps / theirs[i].rps).toFixed(3))),
      // CPU the server spent per request (redis-server's shown beside it), floor's over
      // certgate's: steadier than rps on a machine shared with other work.
      cpu_ratio_to_floor: Number((floor.cpu_us_per_request / figure.cpu_us_per_request).toFixed(3)),
      // The same with redis-server's CPU counted on both sides: the work the whole stack does.
      total_cpu_ratio_to_floor: Number(((floor.cpu_us_per_request + floor.redis_cpu_us_per_request) / (figure.cpu_us_per_request + figure.redis_cpu_us_per_request)).toFixed(3)),
      // The floor did not saturate its core (login_cold: the generator sends ever-new certificates
      // from a file and caps both sides near the same rps): ratio_to_floor then measures the
      // generator; judge by the CPU ratios.
      load_generator_bound: floor.busy < 0.85,
      floor,
    };
  }
  await runLoad({ url: gwMemory.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${tMemory}` }, duration: WARMUP, connections: CONNECTIONS });
  result.forward_memory = withRatio(aggregate([await runLoad({ url: gwMemory.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${tMemory}` }, duration: DURATION, connections: CONNECTIONS })]));
  result.rss_mb = rssMb(gwRedis.pid);

  // Every core: forward and login_warm with 2 workers (`serve --workers 2`) beside the single
  // process, same store, alternating rounds as above. On a 2-core machine the load generator and
  // redis-server share the cores with the workers: the speedup is what this machine gives.
  if (!ONLY || ONLY.has('workers')) {
    const gw2 = await startGateway(dir, 'workers2', redis.url, ca.pem, { workers: 2 });
    const t2 = await login(gw2);
    const loads = {
      forward: (gw, t) => ({ url: gw.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${t}` } }),
      login_warm: (gw) => ({ ...JSON_POST, url: gw.url + LOGIN, headers: { ...JSON_POST.headers, 'x-ssl-client-cert': header } }),
    };
    result.workers = {};
    for (const [name, load] of Object.entries(loads)) {
      const targets = [load(gwRedis, tRedis), load(gw2, t2)];
      for (const t of targets) await runLoad({ connections: CONNECTIONS, ...t, duration: WARMUP });
      const runs = [[], []];
      for (let i = 0; i < ROUNDS; i++) {
        for (const w of i % 2 === 0 ? [0, 1] : [1, 0]) runs[w].push(await runLoad({ connections: CONNECTIONS, ...targets[w], duration: DURATION }));
      }
      const [one, two] = runs.map(aggregate);
      result.workers[name] = { workers_1: one, workers_2: two, speedup: Number((two.rps / one.rps).toFixed(3)) };
    }
    gw2.proc.kill('SIGTERM');
  }
  result.machine = { ...machine(), seconds: DURATION, rounds: ROUNDS, connections: CONNECTIONS, cold: COLD };

  for (const [k, v] of Object.entries(result)) {
    if (typeof v !== 'object' || !('rps' in v)) continue;
    const floor = v.floor ? `  floor ${String(v.floor.rps).padStart(6)} rps (errors ${v.floor.errors})  ratio_to_floor ${v.ratio_to_floor} [${v.ratio_to_floor_rounds.join(' ')}]  cpu/req ${v.cpu_us_per_request}+${v.redis_cpu_us_per_request} vs ${v.floor.cpu_us_per_request}+${v.floor.redis_cpu_us_per_request} us (${v.cpu_ratio_to_floor}, with redis ${v.total_cpu_ratio_to_floor})${v.load_generator_bound ? '  LOAD-GENERATOR BOUND: compare CPU' : ''}` : '';
    console.error(`${k.padEnd(15)} ${String(v.rps).padStart(7)} rps  p50 ${v.p50_ms} ms  p99 ${v.p99_ms} ms  errors ${v.errors}  ratio ${v.ratio}${floor}`);
  }
  for (const [k, v] of Object.entries(result.workers ?? {})) {
    console.error(`${(k + ' x2').padEnd(15)} ${String(v.workers_2.rps).padStart(7)} rps  p50 ${v.workers_2.p50_ms} ms  p99 ${v.workers_2.p99_ms} ms  errors ${v.workers_2.errors}  vs 1 worker ${v.workers_1.rps} rps (errors ${v.workers_1.errors})  speedup ${v.speedup}`);
  }
  console.log(JSON.stringify(result));
} finally {
  killTracked();
  rmSync(dir, { recursive: true, force: true });
}
