#!/usr/bin/env node
// `npm run soak -- --minutes N [--concurrency C] [--restart-every S]`: mixed login / forward /
// renew / revoke load over two certgate processes sharing one real redis-server (appendonly, so
// tokens survive its restarts), with Redis restarted every S seconds (default 45). Not part of
// `npm test`.
//
// Every 10 s it prints requests, rps, p99 and errors of the interval and each gateway's RSS; at
// the end the errors by kind, the RSS curve and p99 over time as one JSON line. Errors are
// `expected` only when they are 503 store_unavailable while Redis is down or within 5 s of its
// return; anything else (a 5xx, a refused token that should work, a revoked token accepted, a
// connection error) is unexpected, and the exit code is 1 when there was any.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { killTracked, machine, redisCli, root, rssMb, sleep, startGateway, startRedis } from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    'restart-every': { type: 'string', default: '45' },
    certificates: { type: 'string', default: '2000' },
  },
});
const MINUTES = Number(args.minutes);
const CONCURRENCY = Number(args.concurrency);
const RESTART_EVERY_MS = Number(args['restart-every']) * 1000;
const CERTS = Number(args.certificates);
const GRACE_MS = 5000;
const LOGIN = '/api/v1/auth/tls-cert-auth/login';

const { mintCertificate, generateKeys } = await import(join(root, 'dist/pki/mint.js'));
const dir = mkdtempSync(join(tmpdir(), 'certgate-soak-'));
const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 10_000 });

try {
  const ca = await mintCertificate({ subject: 'CN=Soak CA', ca: true });
  const keys = await generateKeys('ec-p256');
  const certs = [];
  for (let i = 0; i < CERTS; i++) certs.push(encodeURIComponent((await mintCertificate({ subject: `CN=bench-soak-${i}`, issuer: ca, keys })).pem));

  let redis = await startRedis(dir, { appendonly: true });
  const gateways = [
    await startGateway(dir, 'soak-a', redis.url, ca.pem, { keysDir: './shared-keys' }),
    await startGateway(dir, 'soak-b', redis.url, ca.pem, { keysDir: './shared-keys' }),
  ];

  // Redis state, for telling expected outages from unexpected errors.
  let redisDown = false;
  let redisBackAt = 0;
  const inOutage = () => redisDown || Date.now() - redisBackAt < GRACE_MS;

  const stats = { requests: 0, byOp: {}, expected: {}, unexpected: {} };
  let interval = { requests: 0, latencies: [], errors: 0 };
  const curve = [];
  const tokens = []; // live tokens: {token, gw}
  const started = Date.now();
  const deadline = started + MINUTES * 60_000;

  const note = (kind, expected) => {
    const bucket = expected ? stats.expected : stats.unexpected;
    bucket[kind] = (bucket[kind] ?? 0) + 1;
    if (!expected) interval.errors++;
  };

  async function call(gw, method, path, headers, body) {
    const t = performance.now();
    try {
      const res = await request(gw.url + path, { method, headers, body, dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
      const text = await res.body.text();
      interval.latencies.push(performance.now() - t);
      return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
    } catch (e) {
      interval.latencies.push(performance.now() - t);
      return { status: 0, json: { error: `connection:${e.code ?? e.message}` } };
    } finally {
      stats.requests++;
      interval.requests++;
    }
  }

  /** Classifies an answer that was not the one wanted. */
  function refused(op, r) {
    const kind = `${op} ${r.status} ${r.json?.error ?? ''}`.trim();
    note(kind, r.status === 503 && r.json?.error === 'store_unavailable' && inOutage());
  }

  const pick = (a) => a[Math.floor(Math.random() * a.length)];
  const json = { 'content-type': 'application/json' };

  async function login() {
    const gw = pick(gateways);
    const r = await call(gw, 'POST', LOGIN, { ...json, 'x-ssl-client-cert': pick(certs) }, '{}');
    if (r.status === 200) {
      tokens.push(r.json.accessToken);
      if (tokens.length > 500) tokens.shift();
    } else refused('login', r);
  }
  async function forward() {
    const t = pick(tokens);
    if (!t) return login();
    const r = await call(pick(gateways), 'GET', '/api/v1/auth/forward', { authorization: `Bearer ${t}` });
    // A token dropped from the pool by revoke may still be in flight here: that refusal is right.
    if (r.status !== 204 && !(r.status === 401 && r.json?.error === 'token_revoked' && !tokens.includes(t))) refused('forward', r);
  }
  async function renew() {
    const i = Math.floor(Math.random() * tokens.length);
    const t = tokens[i];
    if (!t) return login();
    const r = await call(pick(gateways), 'POST', '/api/v1/auth/token/renew', json, JSON.stringify({ accessToken: t }));
    if (r.status === 200) {
      const at = tokens.indexOf(t);
      if (at >= 0) tokens[at] = r.json.accessToken;
    } else if (!(r.status === 401 && r.json?.error === 'token_revoked' && !tokens.includes(t))) refused('renew', r);
  }
  async function revoke() {
    if (tokens.length < 50) return login();
    const t = tokens.splice(Math.floor(Math.random() * tokens.length), 1)[0];
    const [a, b] = Math.random() < 0.5 ? gateways : [...gateways].reverse();
    const r = await call(a, 'POST', '/api/v1/auth/token/revoke', json, JSON.stringify({ accessToken: t }));
    if (r.status !== 200) return refused('revoke', r);
    // Revocation takes effect on every gateway at once.
    const after = await call(b, 'GET', '/api/v1/auth/forward', { authorization: `Bearer ${t}` });
    if (after.status === 204) note('revoked token accepted', false);
    else if (!(after.status === 401 && after.json?.error === 'token_revoked')) refused('forward-after-revoke', after);
  }

  const ops = [[login, 0.2], [forward, 0.7], [renew, 0.05], [revoke, 0.05]];
  const chooseOp = () => {
    let x = Math.random();
    for (const [op, p] of ops) if ((x -= p) < 0) return op;
    return forward;
  };
  async function worker() {
    while (Date.now() < deadline) {
      const op = chooseOp();
      stats.byOp[op.name] = (stats.byOp[op.name] ?? 0) + 1;
      await op();
    }
  }

  async function restarts() {
    let n = 0;
    while (Date.now() + RESTART_EVERY_MS < deadline) {
      await sleep(RESTART_EVERY_MS);
      redisDown = true;
      // SIGTERM: Redis writes its append-only file out before it exits.
      redis.proc.kill('SIGTERM');
      await new Promise((r) => redis.proc.once('exit', r));
      await sleep(1000);
      redis = await startRedis(dir, { appendonly: true, port: redis.port });
      redisBackAt = Date.now();
      redisDown = false;
      n++;
      console.error(`[soak] redis restarted (${n}), ${redisCli(redis.port, 'dbsize')} keys after reload`);
    }
  }

  function report() {
    const lat = interval.latencies.sort((a, b) => a - b);
    const p99 = lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))].toFixed(1)) : null;
    const point = { t_s: Math.round((Date.now() - started) / 1000), requests: interval.requests, rps: Math.round(interval.requests / 10), p99_ms: p99, unexpected_errors: interval.errors, rss_mb: gateways.map((g) => rssMb(g.pid)) };
    curve.push(point);
    console.error(`[soak] t=${String(point.t_s).padStart(4)} s  ${String(point.rps).padStart(5)} rps  p99 ${p99} ms  unexpected ${point.unexpected_errors}  rss ${point.rss_mb.join(' / ')} MB${redisDown ? '  (redis down)' : ''}`);
    interval = { requests: 0, latencies: [], errors: 0 };
  }
  const ticker = setInterval(report, 10_000);

  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), restarts()]);
  clearInterval(ticker);
  report();

  const unexpected = Object.values(stats.unexpected).reduce((s, n) => s + n, 0);
  const rssFirst = curve[1]?.rss_mb ?? curve[0].rss_mb;
  const rssLast = curve[curve.length - 1].rss_mb;
  const summary = {
    minutes: MINUTES,
    requests: stats.requests,
    operations: stats.byOp,
    errors: { expected: stats.expected, unexpected: stats.unexpected },
    unexpected_errors: unexpected,
    rss_mb: { after_20s: rssFirst, end: rssLast, max: gateways.map((_, i) => Math.max(...curve.map((p) => p.rss_mb[i]))) },
    curve,
    machine: machine(),
  };
  console.error(`[soak] errors by kind: ${JSON.stringify(summary.errors)}`);
  console.log(JSON.stringify(summary));
  process.exitCode = unexpected > 0 ? 1 : 0;
} finally {
  await agent.close().catch(() => undefined);
  killTracked();
  rmSync(dir, { recursive: true, force: true });
}
