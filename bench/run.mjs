#!/usr/bin/env node
// certgate benchmark. Starts its own redis-server and gateway processes on loopback, measures
// each scenario with autocannon for a fixed duration, and prints ratios against a baseline (a bare
// node:http server) measured in the same run, so figures compare across machines.
// Last line: {baseline, forward, login_warm, login_cold, forward_memory, rss_mb}.
import 'reflect-metadata';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = new URL('..', import.meta.url).pathname;
const { mintCertificate } = await import(join(root, 'dist/pki/mint.js'));

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url, tries = 200) {
  for (let i = 0; i < tries; i++) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered`);
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
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('redis-server did not start');
}

async function startGateway(dir, name, storeUrl, caPem) {
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
    // Limits are counted (their store round trips are part of the figures) but set out of reach:
    // the benchmark logs in from one address far faster than the default 600 per minute.
    `limits: { loginsPerIpPerMinute: 1000000000, loginsPerIdentityPerMinute: 1000000000, outstandingTokensPerIdentity: 1000000000 }`,
  ].join('\n');
  writeFileSync(join(dir, `${name}.yaml`), yaml);
  const c = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--config', join(dir, `${name}.yaml`)], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, REDIS_URL: '' } });
  children.push(c);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url + '/healthz');
  return { url, pid: c.pid, proc: c };
}

function run(opts) {
  return new Promise((resolve, reject) => {
    const limit = opts.amount ? {} : { duration: DURATION };
    autocannon({ connections: CONNECTIONS, ...limit, ...opts }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const figure = (r, base) => ({
  rps: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  errors: r.errors + r.timeouts + (r.non2xx ?? 0),
  ratio: base ? Number((r.requests.average / base).toFixed(4)) : 1,
});

const rssMb = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
};

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-'));
try {
  const ca = await mintCertificate({ subject: 'CN=Bench CA', ca: true });
  const leaf = await mintCertificate({ subject: 'CN=bench-warm', issuer: ca });
  const header = encodeURIComponent(leaf.pem);
  // login_cold: every request presents a certificate the gateway has never seen (no parse cache
  // hit), so it runs a fixed number of requests, one per pre-minted certificate.
  const COLD = Number(process.env.BENCH_COLD ?? 2000);
  const coldHeaders = [];
  for (let i = 0; i < COLD; i++) coldHeaders.push(encodeURIComponent((await mintCertificate({ subject: `CN=bench-${i}`, issuer: ca })).pem));

  const redisUrl = await startRedis(dir);
  const gwRedis = await startGateway(dir, 'redis', redisUrl, ca.pem);
  const gwMemory = await startGateway(dir, 'memory', 'memory', ca.pem);

  // Baseline: the cheapest possible HTTP answer on this machine, measured now.
  const basePort = await freePort();
  const baseChild = spawn(process.execPath, ['-e', `require('http').createServer((q,s)=>{s.statusCode=204;s.end()}).listen(${basePort},'127.0.0.1')`], { stdio: 'ignore' });
  children.push(baseChild);
  await waitFor(`http://127.0.0.1:${basePort}/`);
  const baseline = await run({ url: `http://127.0.0.1:${basePort}/` });
  const b = baseline.requests.average;

  const login = async (gw) => {
    const res = await fetch(gw.url + '/api/v1/auth/tls-cert-auth/login', { method: 'POST', headers: { 'x-ssl-client-cert': header, 'content-type': 'application/json' }, body: '{}' });
    return (await res.json()).accessToken;
  };
  const tRedis = await login(gwRedis);
  const tMemory = await login(gwMemory);

  const forward = await run({ url: gwRedis.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${tRedis}` } });
  const forwardMemory = await run({ url: gwMemory.url + '/api/v1/auth/forward', headers: { authorization: `Bearer ${tMemory}` } });
  const loginWarm = await run({ url: gwRedis.url + '/api/v1/auth/tls-cert-auth/login', method: 'POST', headers: { 'x-ssl-client-cert': header, 'content-type': 'application/json' }, body: '{}' });
  let n = 0;
  const loginCold = await run({
    amount: COLD,
    url: gwRedis.url + '/api/v1/auth/tls-cert-auth/login',
    requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, headers: { 'x-ssl-client-cert': coldHeaders[n++], 'content-type': 'application/json' }, body: '{}' }) }],
  });

  const result = {
    baseline: figure(baseline, 0),
    forward: figure(forward, b),
    login_warm: figure(loginWarm, b),
    login_cold: figure(loginCold, b),
    forward_memory: figure(forwardMemory, b),
    rss_mb: rssMb(gwRedis.pid),
  };
  for (const [k, v] of Object.entries(result)) if (typeof v === 'object') console.error(`${k.padEnd(15)} ${String(v.rps).padStart(7)} rps  p50 ${v.p50_ms} ms  p99 ${v.p99_ms} ms  errors ${v.errors}  ratio ${v.ratio}`);
  console.log(JSON.stringify(result));
} finally {
  children.forEach((c) => c.kill('SIGKILL'));
  rmSync(dir, { recursive: true, force: true });
}
