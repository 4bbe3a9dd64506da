#!/usr/bin/env node
// Worst-case forwarded-header shapes at the 32 KiB cap, through every decoder. Decoding must stay
// linear: a backtracking regex turns one header into a CPU-second (one did, 0.7 s, before it was
// replaced by a loop). Prints ms per shape (all formats together) and the ratio to a baseline of
// copying the same bytes, measured in the same run. Run after `npm run build`.
import { join } from 'node:path';
const root = new URL('..', import.meta.url).pathname;
const { decodeForwardedCertificate } = await import(join(root, 'dist/proxy/decode.js'));
const { parseXfcc } = await import(join(root, 'dist/proxy/xfcc.js'));
const { HEADER_FORMATS, MAX_CERT_HEADER_BYTES } = await import(join(root, 'dist/proxy/types.js'));

const N = MAX_CERT_HEADER_BYTES - 2;
const SHAPES = {
  'spaces then a letter': `a${' '.repeat(N)}b`,
  'tabs and spaces': `x${' \t'.repeat(N / 2)}y`,
  'base64 then a bad char': `${'A'.repeat(N)}!`,
  'percent escapes': '%41'.repeat(Math.floor(N / 3)),
  'almost an escape': `${'%4'.repeat(N / 2)}`,
  'xfcc pairs': 'a=b;'.repeat(N / 4).slice(0, -1),
  'xfcc elements': 'a=b,'.repeat(N / 4).slice(0, -1),
  'xfcc open quote': `Cert="${'\\"'.repeat(N / 2 - 4)}`,
  'key without =': 'k'.repeat(N),
  commas: ','.repeat(N),
  colons: `:${'A'.repeat(N - 2)}`,
  'armor repeated': '-----BEGIN CERTIFICATE----- '.repeat(Math.floor(N / 28)),
  'placeholder-like': `{http.request.${'x'.repeat(N - 20)}`,
  bracketed: `[${':'.repeat(N)}`,
};
const REPS = 20;
const time = (f) => {
  const t = performance.now();
  for (let i = 0; i < REPS; i++) f();
  return (performance.now() - t) / REPS;
};
const results = {};
let worst = 0;
for (const [name, value] of Object.entries(SHAPES)) {
  const baseline = time(() => Buffer.from(value, 'latin1').toString('base64'));
  const ms = time(() => {
    for (const format of HEADER_FORMATS) {
      try { decodeForwardedCertificate(format, value, format === 'envoy-xfcc' ? undefined : value); } catch {}
    }
    try { parseXfcc(value); } catch {}
  });
  results[name] = { ms: Number(ms.toFixed(3)), ratio: Number((ms / baseline).toFixed(1)) };
  worst = Math.max(worst, ms);
  console.error(`${name.padEnd(24)} ${ms.toFixed(3)} ms  (${(ms / baseline).toFixed(1)}x copying it)`);
}
console.log(JSON.stringify({ worst_ms: Number(worst.toFixed(3)), shapes: results }));
