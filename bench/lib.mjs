// Shared pieces of the benchmark and the soak: loopback ports, child processes that die with us,
// redis-server, certgate gateways from a generated config, the separate load-generator process,
// and RSS readings.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;

const children = new Set();
const killAll = () => children.forEach((c) => c.kill('SIGKILL'));
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { killAll(); process.exit(130); });

/** A child process killed when this process exits, whatever the reason. */
export function spawnTracked(cmd, args, opts) {
  const c = spawn(cmd, args, opts);
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}
export const killTracked = () => killAll();

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(url, tries = 400) {
  for (let i = 0; i < tries; i++) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} never answered`);
}

export function redisCli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { stdio: 'pipe' }).toString().trim();
}

/** redis-server on a free port; `appendonly` for runs where tokens must survive a restart. */
export async function startRedis(dir, { appendonly = false, port } = {}) {
  port ??= await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'everysec', '--dir', dir];
  const proc = spawnTracked('redis-server', args, { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    try {
      if (redisCli(port, 'ping') === 'PONG') return { url: `redis://127.0.0.1:${port}`, port, proc };
    } catch {}
    await sleep(50);
  }
  throw new Error('redis-server did not start');
}

/**
 * Node options of the gateways (not of the load generator): by default certgate's start-time heap
 * flag, as `npm start`, the Docker image and `serve --workers` pass it (src/util/heap-settings.ts).
 * BENCH_GATEWAY_NODE_ARGS="--flag …" replaces them, to compare runtime settings ("" = none);
 * they are the operator's own and win over certgate's (docs/operations.md).
 */
const { YOUNG_GENERATION_FLAG } = await import(join(root, 'dist/util/heap-settings.js'));
const GATEWAY_NODE_ARGS = (process.env.BENCH_GATEWAY_NODE_ARGS ?? YOUNG_GENERATION_FLAG).split(' ').filter(Boolean);

/**
 * A certgate process (dist/) with one identity `bench` trusting `caPem`. `name` keeps its files
 * apart; gateways given the same `keysDir` share signing keys (a fleet).
 */
export async function startGateway(dir, name, storeUrl, caPem, { keysDir = `./${name}-keys`, logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn', extraYaml = [], stdout = 'ignore', workers = 1 } = {}) {
  const port = await freePort();
  writeFileSync(join(dir, `${name}-ca.pem`), caPem);
  const yaml = [
    `server: { host: 127.0.0.1, port: ${port} }`,
    `issuer: https://bench.certgate.test`,
    `store: { url: "${storeUrl}" }`,
    `keys: { dir: ${keysDir} }`,
    `log: { level: ${logLevel} }`,
    `trustedProxies: [{ cidrs: [127.0.0.1/32], header: x-ssl-client-cert, format: nginx }]`,
    `identities: [{ id: bench, caCertificateFile: ${name}-ca.pem, allowedCommonNames: ["bench-*"] }]`,
    // Limits are counted (their store round trips are part of the figures) but set out of reach:
    // the benchmark logs in from one address far faster than the default 600 per minute.
    `limits: { loginsPerIpPerMinute: 1000000000, loginsPerIdentityPerMinute: 1000000000, outstandingTokensPerIdentity: 1000000000 }`,
    ...extraYaml,
  ].join('\n');
  writeFileSync(join(dir, `${name}.yaml`), yaml);
  const proc = spawnTracked(process.execPath, [...GATEWAY_NODE_ARGS, join(root, 'dist/cli/main.js'), 'serve', '--config', join(dir, `${name}.yaml`), '--workers', String(workers)], {
    stdio: ['ignore', stdout, 'inherit'],
    env: { ...process.env, REDIS_URL: '' },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url + '/healthz');
  if (workers > 1) await allWorkersAnswer(url, workers);
  return { url, port, pid: proc.pid, proc };
}

export const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
export const environOf = (pid) => {
  try {
    return Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  } catch {
    return {};
  }
};


/** Waits until `workers` distinct workers have answered /metrics (each names itself there). */
async function allWorkersAnswer(url, workers) {
  const seen = new Set();
  for (let i = 0; i < 400 && seen.size < workers; i++) {
    const pid = await new Promise((resolve) => {
      const req = get(`${url}/metrics`, { agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(/certgate_worker_info\{worker="\d+",pid="(\d+)"\}/.exec(body)?.[1]));
      });
      req.on('error', () => resolve(undefined));
    });
    if (pid) seen.add(pid);
    else await sleep(50);
  }
  if (seen.size < workers) throw new Error(`${url}: ${workers} workers never answered`);
}

/** A floor server (bench/floor.mjs) for `mode`; see that file for what each floor does. */
export async function startFloor(mode, redisUrl, caFile) {
  const port = await freePort();
  const proc = spawnTracked(process.execPath, [join(root, 'bench/floor.mjs'), mode, String(port), redisUrl, caFile ?? ''], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url + '/healthz');
  return { url, pid: proc.pid, proc };
}

/**
 * One autocannon run in its own process (bench/load.mjs), so the load generator never shares an
 * event loop with the bench driver or a server under test. `headersFile`: a JSON array of
 * per-request certificate headers (one fresh certificate per request).
 */
export function runLoad(opts) {
  return new Promise((resolve, reject) => {
    const c = spawnTracked(process.execPath, [join(root, 'bench/load.mjs'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (e) {
        reject(e);
      }
    });
  });
}

export const rssMb = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
};

export function machine() {
  const c = cpus();
  return { cpus: c.length, model: c[0]?.model ?? 'unknown', node: process.version, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number) };
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** runLoad, also measuring the CPU the server process `pid` (and redis-server) spent. */
export async function runMeasured(pid, opts, redisPid) {
  const before = cpuSeconds(pid);
  const redisBefore = redisPid ? cpuSeconds(redisPid) : 0;
  const r = await runLoad(opts);
  const cpu = cpuSeconds(pid) - before;
  return { ...r, cpu_seconds: cpu, redis_cpu_seconds: redisPid ? cpuSeconds(redisPid) - redisBefore : 0 };
}
