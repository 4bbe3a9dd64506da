// `npm run bench -- --rss [N]`: the gateway's RSS under N requests (default 1,000,000) of mixed
// traffic with ever-new certificates. Batches of 10,000 requests: 1,000 logins, each with a
// certificate never seen before, then 9,000 forward-auth calls spread over the tokens those
// logins returned. BENCH_WORKERS=N runs `serve --workers N` (a primary and N workers).
//
// What the target ("RSS ≤ 150 MB and growing < 10 % between 100k and 1M requests") needs, for
// every process of the gateway (the serving process; or the primary and each
// worker):
// - rss_mb_peak: the kernel's high-water mark of the process (VmHWM, or the largest sample when
//   VmHWM trails it): the true maximum over the
//   whole run, startup included, whatever the sampling missed;
// - rss_mb_max_sampled: the largest of the samples taken every 100 ms by this script;
// - rss_mb_at_100k, rss_mb_end and growth_pct_100k_to_end: single samples after the batch that
//   reached 100k requests and after the last batch;
// - window_max_mb_at_100k, window_max_mb_end and growth_pct_window_max: the largest sample of the
//   10 batches (100k requests) ending at 100k and of the last 10 batches: the same growth, read
//   from the top of the GC sawtooth instead of wherever a single sample happened to fall.
// The last line is one JSON object {requests, errors, target, processes, curve, machine}; `target`
// says whether both limits hold for every process. The V8 heap (total, used) of the process that
// answered /metrics is in the curve beside RSS.
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, environOf, killTracked, machine, root, runLoad, startGateway, startRedis } from './lib.mjs';

const argIndex = process.argv.indexOf('--rss');
const TOTAL = Number(process.argv[argIndex + 1]) > 0 ? Number(process.argv[argIndex + 1]) : 1_000_000;
const BATCH = 10_000;
const LOGINS = 1_000;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const SAMPLE_MS = 100;
const RSS_LIMIT_MB = 150;
const GROWTH_LIMIT_PCT = 10;
const { mintCertificate, generateKeys } = await import(join(root, 'dist/pki/mint.js'));

/** VmRSS and VmHWM (peak) of a process in MB, or undefined once it is gone. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]);
    return { rss_mb: Math.round(kb('VmRSS') / 1024), peak_mb: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

/**
 * Every process of the gateway with its role: the single serving process, or the primary and its
 * cluster workers.
 */
function gatewayProcesses(gw) {
  const list = [];
  const workers = childrenOf(gw.pid).filter((c) => environOf(c).NODE_UNIQUE_ID !== undefined);
  list.push({ pid: gw.pid, role: workers.length > 0 ? 'primary' : 'gateway' });
  for (const w of workers) list.push({ pid: w, role: 'worker' });
  return list;
}

/**
 * V8 heap size and use from the gateway's own /metrics (prom-client's defaults): RSS follows the
 * heap's GC sawtooth, heap used right after a collection is what the process really holds.
 */
async function heapMb(url) {
  const text = await (await fetch(url + '/metrics')).text();
  const read = (name) => Math.round(Number(new RegExp(`^certgate_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576);
  const pid = /certgate_worker_info\{worker="\d+",pid="(\d+)"\}/.exec(text)?.[1];
  return { heap_total_mb: read('nodejs_heap_size_total_bytes'), heap_used_mb: read('nodejs_heap_size_used_bytes'), ...(pid ? { heap_pid: Number(pid) } : {}) };
}

const pct = (from, to) => Number(((100 * (to - from)) / from).toFixed(1));

const dir = mkdtempSync(join(tmpdir(), 'certgate-rss-'));
try {
  const ca = await mintCertificate({ subject: 'CN=Bench CA', ca: true });
  const keys = await generateKeys('ec-p256');
  let serial = 0;
  const mintBatch = async (file) => {
    const list = [];
    for (let i = 0; i < LOGINS; i++) list.push(encodeURIComponent((await mintCertificate({ subject: `CN=bench-${serial++}`, issuer: ca, keys })).pem));
    writeFileSync(file, JSON.stringify(list));
  };
  const redis = await startRedis(dir);
  const gw = await startGateway(dir, 'rss', redis.url, ca.pem, { workers: WORKERS });
  const procs = gatewayProcesses(gw);
  const pids = procs.map((p) => p.pid);
  // Per process: the largest sample of the current batch, and the samples after each batch.
  const batchMax = new Map(pids.map((p) => [p, 0]));
  const sampler = setInterval(() => {
    for (const p of pids) batchMax.set(p, Math.max(batchMax.get(p), memoryOf(p)?.rss_mb ?? 0));
  }, SAMPLE_MS);
  const curve = [];
  let requests = 0;
  let errors = 0;
  const certFile = (b) => join(dir, `certs-${b % 2}.json`);
  await mintBatch(certFile(0));
  const started = Date.now();
  for (let b = 0; requests < TOTAL; b++) {
    const tokensFile = join(dir, 'tokens.json');
    // Mint the next batch's certificates while this batch runs.
    const [logins] = await Promise.all([
      runLoad({ url: gw.url + '/api/v1/auth/tls-cert-auth/login', method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, amount: LOGINS, connections: CONNECTIONS, perRequest: { header: 'x-ssl-client-cert', file: certFile(b) }, collectTo: tokensFile }),
      mintBatch(certFile(b + 1)),
    ]);
    const tokens = JSON.parse(readFileSync(tokensFile, 'utf8')).map((t) => `Bearer ${t}`);
    writeFileSync(tokensFile, JSON.stringify(tokens));
    const forwards = await runLoad({ url: gw.url + '/api/v1/auth/forward', amount: BATCH - LOGINS, connections: CONNECTIONS, perRequest: { header: 'authorization', file: tokensFile } });
    requests += logins.requests + forwards.requests;
    errors += logins.errors + forwards.errors;
    const rss = pids.map((p) => memoryOf(p)?.rss_mb ?? 0);
    const max = pids.map((p, i) => Math.max(batchMax.get(p), rss[i]));
    pids.forEach((p) => batchMax.set(p, 0));
    const point = { requests, rss_mb: rss, batch_max_rss_mb: max, ...(await heapMb(gw.url)) };
    curve.push(point);
    if (b % 10 === 9) console.error(`${String(requests).padStart(8)} requests  rss ${rss.join('/')} MB (batch max ${max.join('/')})  heap ${point.heap_used_mb}/${point.heap_total_mb} MB  errors ${errors}  ${Math.round((Date.now() - started) / 1000)} s`);
  }
  clearInterval(sampler);
  const i100k = Math.max(0, curve.findIndex((p) => p.requests >= 100_000));
  const at100k = curve[i100k === -1 ? 0 : i100k];
  const end = curve[curve.length - 1];
  const firstWindow = curve.slice(Math.max(0, i100k - 9), i100k + 1);
  const lastWindow = curve.slice(-10);
  const processes = procs.map(({ pid, role }, i) => {
    const windowMaxAt100k = Math.max(...firstWindow.map((p) => p.batch_max_rss_mb[i]));
    const windowMaxEnd = Math.max(...lastWindow.map((p) => p.batch_max_rss_mb[i]));
    return {
      role,
      pid,
      // Linux updates VmHWM lazily (it can trail a VmRSS read moments before): the peak is at
      // least every sample taken.
      rss_mb_peak: Math.max(memoryOf(pid)?.peak_mb ?? 0, ...curve.map((p) => p.batch_max_rss_mb[i])),
      rss_mb_max_sampled: Math.max(...curve.map((p) => p.batch_max_rss_mb[i])),
      rss_mb_at_100k: at100k.rss_mb[i],
      rss_mb_end: end.rss_mb[i],
      growth_pct_100k_to_end: pct(at100k.rss_mb[i], end.rss_mb[i]),
      window_max_mb_at_100k: windowMaxAt100k,
      window_max_mb_end: windowMaxEnd,
      growth_pct_window_max: pct(windowMaxAt100k, windowMaxEnd),
    };
  });
  const peakHolds = processes.every((p) => p.rss_mb_peak <= RSS_LIMIT_MB);
  const growthHolds = processes.every((p) => p.growth_pct_100k_to_end < GROWTH_LIMIT_PCT && p.growth_pct_window_max < GROWTH_LIMIT_PCT);
  console.log(JSON.stringify({
    requests,
    errors,
    target: { rss_limit_mb: RSS_LIMIT_MB, growth_limit_pct: GROWTH_LIMIT_PCT, peak_holds: peakHolds, growth_holds: growthHolds, holds: peakHolds && growthHolds && requests >= 1_000_000 },
    processes,
    heap_used_mb_min_after_100k: Math.min(...curve.slice(i100k).map((p) => p.heap_used_mb)),
    curve: curve.filter((p, i) => i % 10 === 9 || i === curve.length - 1),
    machine: machine(),
  }));
} finally {
  killTracked();
  rmSync(dir, { recursive: true, force: true });
}
