// `npm run bench -- --rss [N]`: the gateway's RSS under N requests (default 1,000,000) of mixed
// traffic with ever-new certificates. Batches of 10,000 requests: 1,000 logins, each with a
// certificate never seen before, then 9,000 forward-auth calls spread over the tokens those
// logins returned. RSS is read after every batch; the last line is one JSON object
// {requests, errors, rss_mb_at_100k, rss_mb_end, rss_mb_max, growth_pct_100k_to_end, curve, …}
// with the V8 heap (total, used) from the gateway's /metrics beside RSS.
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTracked, machine, root, runLoad, rssMb, startGateway, startRedis } from './lib.mjs';

const argIndex = process.argv.indexOf('--rss');
const TOTAL = Number(process.argv[argIndex + 1]) > 0 ? Number(process.argv[argIndex + 1]) : 1_000_000;
const BATCH = 10_000;
const LOGINS = 1_000;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const { mintCertificate, generateKeys } = await import(join(root, 'dist/pki/mint.js'));

/**
 * V8 heap size and use from the gateway's own /metrics (prom-client's defaults): RSS follows the
 * heap's GC sawtooth, heap used right after a collection is what the process really holds.
 */
async function heapMb(url) {
  const text = await (await fetch(url + '/metrics')).text();
  const read = (name) => Math.round(Number(new RegExp(`^certgate_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576);
  return { heap_total_mb: read('nodejs_heap_size_total_bytes'), heap_used_mb: read('nodejs_heap_size_used_bytes') };
}

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
  const gw = await startGateway(dir, 'rss', redis.url, ca.pem);
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
    const point = { requests, rss_mb: rssMb(gw.pid), ...(await heapMb(gw.url)) };
    curve.push(point);
    if (b % 10 === 9) console.error(`${String(requests).padStart(8)} requests  rss ${point.rss_mb} MB  heap ${point.heap_used_mb}/${point.heap_total_mb} MB  errors ${errors}  ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const at100k = curve.find((p) => p.requests >= 100_000) ?? curve[0];
  const end = curve[curve.length - 1];
  console.log(JSON.stringify({
    requests,
    errors,
    rss_mb_at_100k: at100k.rss_mb,
    rss_mb_end: end.rss_mb,
    rss_mb_max: Math.max(...curve.map((p) => p.rss_mb)),
    rss_mb_min_after_100k: Math.min(...curve.filter((p) => p.requests >= 100_000).map((p) => p.rss_mb)),
    heap_used_mb_min_after_100k: Math.min(...curve.filter((p) => p.requests >= 100_000).map((p) => p.heap_used_mb)),
    heap_used_mb_min_last_100k: Math.min(...curve.filter((p) => p.requests > requests - 100_000).map((p) => p.heap_used_mb)),
    growth_pct_100k_to_end: Number(((100 * (end.rss_mb - at100k.rss_mb)) / at100k.rss_mb).toFixed(1)),
    curve: curve.filter((p, i) => i % 10 === 9 || i === curve.length - 1),
    machine: machine(),
  }));
} finally {
  killTracked();
  rmSync(dir, { recursive: true, force: true });
}
