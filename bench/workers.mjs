#!/usr/bin/env node
// certgate benchmark of `serve --workers N`: forward and login_warm with 1 worker (the single
// process) and with 2 (node:cluster), against the same redis-server, with the same load generator
// (autocannon, in this process) in the same run. On a 2-core machine the load generator takes a
// share of the cores too, so the 2-worker figure is what the machine gives, not what 2 free cores
// would. Last line: {cores, forward: {workers_1, workers_2, speedup}, login_warm: {…}}.
import 'reflect-metadata';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = new URL('..', import.meta.url).pathname;
const { mintCertificate } = await import(join(root, 'dist/pki/mint.js'));

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(dir) {
  const port = await freePort();
  const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  children.push(c);
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' });
      return `redis://127.0.0.1:${port}`;
    } catch {
      await sleep(50);
    }
  }
  throw new Error('redis-server did not start');
}

/** The pid of the worker answering /metrics on a fresh connection (undefined while none listens). */
function workerPid(url) {
  return new Promise((resolve) => {
    const req = get(`${url}/metrics`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(/certgate_worker_info\{worker="\d+",pid="(\d+)"\}/.exec(body)?.[1] ?? 'single'));
    });
    req.on('error', () => resolve(undefined));
  });
}

async function startGateway(dir, name, storeUrl, caPem, workers) {
  const port = await freePort();
  writeFileSync(join(dir, `${name}-ca.pem`), caPem);
  const yaml = [
    `server: { host: 127.0.0.1, port: ${port} }`,
    `issuer: https://bench.certgate.test`,
    `store: { url: "${storeUrl}" }`,
    `keys: { dir: ./${name}-keys }`,
    `log: { level: warn }`,
    `trustedProxies: [{ cidrs: [127.0.0.1/32], header: x-ssl-client-cert, format: nginx }]`,
    `identities: [{ id: bench, caCertificateFile: ${name}-ca.pem, allowedCommonNames: ["bench-*"] }]`,
    `limits: { loginsPerIpPerMinute: 1000000000, loginsPerIdentityPerMinute: 1000000000, outstandingTokensPerIdentity: 1000000000 }`,
  ].join('\n');
  writeFileSync(join(dir, `${name}.yaml`), yaml);
  const args = [join(root, 'dist/cli/main.js'), 'serve', '--config', join(dir, `${name}.yaml`), '--workers', String(workers)];
  const c = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, REDIS_URL: '' } });
  children.push(c);
  const url = `http://127.0.0.1:${port}`;
  // Ready when as many distinct workers have answered as were asked for.
  const seen = new Set();
  for (let i = 0; i < 400 && seen.size < workers; i++) {
    const pid = await workerPid(url);
    if (pid) seen.add(pid);
    else await sleep(50);
  }
  if (seen.size < workers) throw new Error(`${name}: ${workers} workers never answered`);
  return { url, proc: c };
}

function run(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const figure = (r) => ({
  rps: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  errors: r.errors + r.timeouts + (r.non2xx ?? 0),
});

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-workers-'));
try {
  const ca = await mintCertificate({ subject: 'CN=Bench CA', ca: true });
  const leaf = await mintCertificate({ subject: 'CN=bench-warm', issuer: ca });
  const header = encodeURIComponent(leaf.pem);
  const redisUrl = await startRedis(dir);
  const gateways = { 1: await startGateway(dir, 'w1', redisUrl, ca.pem, 1), 2: await startGateway(dir, 'w2', redisUrl, ca.pem, 2) };
  const loginReq = { method: 'POST', headers: { 'x-ssl-client-cert': header, 'content-type': 'application/json' }, body: '{}' };
  const token = async (gw) => (await (await fetch(gw.url + '/api/v1/auth/tls-cert-auth/login', loginReq)).json()).accessToken;

  const result = { cores: availableParallelism(), forward: {}, login_warm: {} };
  for (const n of [1, 2]) {
    const gw = gateways[n];
    // Warm-up: JIT, connection pools, caches; not measured.
    const t = await token(gw);
    await run({ url: gw.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${t}` }, duration: 1 });
    result.forward[`workers_${n}`] = figure(await run({ url: gw.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${t}` } }));
    result.login_warm[`workers_${n}`] = figure(await run({ url: gw.url + '/api/v1/auth/tls-cert-auth/login', ...loginReq }));
  }
  for (const k of ['forward', 'login_warm']) {
    const f = result[k];
    f.speedup = Number((f.workers_2.rps / f.workers_1.rps).toFixed(3));
    for (const n of [1, 2]) {
      const v = f[`workers_${n}`];
      console.error(`${k.padEnd(11)} workers ${n}  ${String(v.rps).padStart(7)} rps  p50 ${v.p50_ms} ms  p99 ${v.p99_ms} ms  errors ${v.errors}`);
    }
    console.error(`${k.padEnd(11)} speedup ${f.speedup}`);
  }
  console.log(JSON.stringify(result));
} finally {
  children.forEach((c) => c.kill('SIGKILL'));
  rmSync(dir, { recursive: true, force: true });
}
