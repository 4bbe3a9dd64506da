#!/usr/bin/env node
// What a request leaves in V8's old generation: `npm run bench:oldgen [forward|login_warm] [seconds]`
// starts a redis-server and a certgate gateway (dist/, its usual heap flag) on loopback ports of
// their own, drives the path with the bench's load generator (32 connections; first a warm-up of
// BENCH_WARMUP_SECONDS, default 2, whose allocations are not counted), and samples the
// gateway's allocations with V8's sampling heap profiler, keeping those that outlived every
// young-generation collection (died in a full collection, or still alive at the end). It prints
// those bytes per request, by the function that allocated them.
// Why: young-generation garbage is cheap to collect, but what reaches the old generation is
// collected only by full (mark-compact) collections, whose frequency follows it. A request that
// leaves nothing there costs no full collection, whatever it allocates. Not part of `npm test`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const scenario = process.argv[2] ?? 'forward';
const seconds = Number(process.argv[3] ?? 4);
const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
if (!['forward', 'login_warm'].includes(scenario)) {
  console.error('usage: bench/old-generation.mjs [forward|login_warm] [seconds]');
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const { mintCertificate } = await import(join(root, 'dist/pki/mint.js'));
const { YOUNG_GENERATION_FLAG } = await import(join(root, 'dist/util/heap-settings.js'));
const dir = mkdtempSync(join(tmpdir(), 'certgate-oldgen-'));
const profileFile = join(dir, 'profile.json');

// Preloaded into the gateway: sampling starts and stops on SIGUSR2, the profile goes to a file.
const preload = join(dir, 'sample-old-generation.cjs');
writeFileSync(preload, `
const inspector = require('node:inspector');
const s = new inspector.Session();
s.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    s.post('HeapProfiler.enable', () => s.post('HeapProfiler.startSampling', { samplingInterval: 2048, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false }));
    return;
  }
  s.post('HeapProfiler.stopSampling', (e, r) => require('node:fs').writeFileSync(${JSON.stringify(profileFile)}, e ? '' : JSON.stringify(r.profile)));
});
`);
// Read by lib.mjs when it loads: set first.
process.env.BENCH_GATEWAY_NODE_ARGS = `${YOUNG_GENERATION_FLAG} --require ${preload}`;
const { killTracked, runLoad, startGateway, startRedis } = await import('./lib.mjs');

try {
  const ca = await mintCertificate({ subject: 'CN=Bench CA', ca: true });
  const leaf = await mintCertificate({ subject: 'CN=bench-warm', issuer: ca });
  const header = encodeURIComponent(leaf.pem);
  const redis = await startRedis(dir);
  const gw = await startGateway(dir, 'oldgen', redis.url, ca.pem);
  const LOGIN = '/api/v1/auth/tls-cert-auth/login';
  const loginReq = { method: 'POST', body: '{}', url: gw.url + LOGIN, headers: { 'content-type': 'application/json', 'x-ssl-client-cert': header } };
  const res = await fetch(loginReq.url, loginReq);
  const { accessToken } = await res.json();
  const load = scenario === 'forward' ? { url: `${gw.url}/api/v1/auth/forward`, headers: { authorization: `Bearer ${accessToken}` } } : loginReq;
  await runLoad({ ...load, duration: warmup, connections: 32 }); // caches filled, code optimized
  process.kill(gw.proc.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 200));
  const run = await runLoad({ ...load, duration: seconds, connections: 32 });
  process.kill(gw.proc.pid, 'SIGUSR2');
  let profile = '';
  for (let i = 0; i < 50 && !profile; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      profile = readFileSync(profileFile, 'utf8');
    } catch {}
  }
  if (!profile) throw new Error('the gateway wrote no heap profile');
  const byFunction = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`;
    if (node.selfSize > 0) byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const c of node.children) walk(c);
  };
  walk(JSON.parse(profile).head);
  const perRequest = (bytes) => Math.round(bytes / run.requests);
  console.log(`${scenario}: ${run.requests} requests, ${Math.round(run.rps)} rps, errors ${run.errors}`);
  console.log(`old generation: ${perRequest(total)} bytes per request, of which:`);
  for (const [name, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    if (perRequest(bytes) >= 1) console.log(`${String(perRequest(bytes)).padStart(8)}  ${name}`);
  }
  console.log(JSON.stringify({ scenario, requests: run.requests, errors: run.errors, old_generation_bytes_per_request: perRequest(total) }));
  gw.proc.kill('SIGTERM');
} finally {
  killTracked();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
