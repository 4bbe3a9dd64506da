#!/usr/bin/env node
// The load generator, in a process of its own: one autocannon run described by argv[2] (JSON),
// result summary as one JSON line on stdout.
//   perRequest: {header, file}  file = JSON array of values; request n sends value n (mod length)
//               in that header (a fresh certificate per login, a different token per forward)
//   collectTo:  a file to write the accessTokens of the 200 answers to (JSON array)
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2]);
const opts = { url: o.url, connections: o.connections ?? 32, method: o.method ?? 'GET', headers: o.headers ?? {}, body: o.body };
if (o.amount) opts.amount = o.amount;
else opts.duration = o.duration;
const collected = [];
if (o.perRequest || o.collectTo) {
  const list = o.perRequest ? JSON.parse(readFileSync(o.perRequest.file, 'utf8')) : [];
  let n = 0;
  const request = { method: opts.method, body: o.body };
  if (o.perRequest) request.setupRequest = (req) => ({ ...req, headers: { ...opts.headers, [o.perRequest.header]: list[n++ % list.length] }, body: o.body });
  if (o.collectTo) request.onResponse = (status, body) => {
    if (status === 200) collected.push(JSON.parse(body).accessToken);
  };
  opts.requests = [request];
}
autocannon(opts, (err, r) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  if (o.collectTo) writeFileSync(o.collectTo, JSON.stringify(collected));
  // r.duration is whole seconds for amount-limited runs; start/finish are exact.
  const seconds = Math.max(1e-3, (new Date(r.finish) - new Date(r.start)) / 1000);
  console.log(JSON.stringify({
    requests: r.requests.total,
    seconds,
    rps: r.requests.total / seconds,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts + (r.non2xx ?? 0),
    non2xx: r.non2xx ?? 0,
  }));
});
