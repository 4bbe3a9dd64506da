#!/usr/bin/env node
// parseCertificate micro-benchmark. Mints an EC P-256 leaf with SANs, an RSA-2048 leaf and a CA with
// name constraints (dist/pki/mint.js), then times parseCertificate against a baseline measured in the
// same run: `new crypto.X509Certificate(der)` alone. Run `npm run build` first.
// Last line: {parse_us, baseline_us, ratio} (µs per certificate, averaged over the three).
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

const N = Number(process.env.BENCH_ITERATIONS ?? 3000);
const root = new URL('..', import.meta.url).pathname;
const { mintCertificate } = await import(join(root, 'dist/pki/mint.js'));
const { parseCertificate } = await import(join(root, 'dist/pki/parsing/certificate.js'));
// The former three-decoder parser, kept as the fast decoder's reference and fallback (for comparison).
const { decodeReference } = await import(join(root, 'dist/pki/parsing/certificate-reference.js')).catch(() => ({}));

const ca = await mintCertificate({
  subject: 'CN=Bench Root CA, O=Bench, C=US', ca: true, pathLen: 1, keyAlg: 'ec-p256',
  nameConstraints: { permitted: [{ type: 'dns', value: 'corp.example' }, { type: 'ip', value: '10.0.0.0/8' }], excluded: [{ type: 'email', value: '.evil.example' }] },
  crlDistributionPoints: ['http://crl.corp.example/root.crl'],
});
const ecLeaf = await mintCertificate({
  subject: 'CN=agent-1, OU=Payments, O=Corp', issuer: ca, keyAlg: 'ec-p256', eku: ['clientAuth', 'serverAuth'],
  san: [
    { type: 'dns', value: 'agent-1.corp.example' }, { type: 'uri', value: 'spiffe://corp.example/ns/default/sa/agent-1' },
    { type: 'email', value: 'agent-1@corp.example' }, { type: 'ip', value: '10.1.2.3' }, { type: 'ip', value: '2001:db8::1' },
  ],
  crlDistributionPoints: ['http://crl.corp.example/root.crl'],
});
const rsaLeaf = await mintCertificate({ subject: 'CN=rsa-agent, O=Corp', issuer: ca, keyAlg: 'rsa-2048', san: [{ type: 'dns', value: 'rsa.corp.example' }] });
const certs = [['ec-p256 leaf + SANs', ecLeaf.der], ['rsa-2048 leaf', rsaLeaf.der], ['CA + name constraints', ca.der]];

/** Mean µs per call of fn(der) over N iterations, after a warm-up. */
function time(fn, der) {
  for (let i = 0; i < Math.min(500, N); i++) fn(der);
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += fn(der) ? 1 : 0;
  const t1 = process.hrtime.bigint();
  if (sink !== N) throw new Error('unexpected result');
  return Number(t1 - t0) / 1000 / N;
}

// Read every field a login reads, so lazily computed fields are paid for too.
const parseAll = (der) => {
  const c = parseCertificate(der);
  return c.subject.length + c.issuer.length + c.commonNames.length + c.publicKey.algorithm.length >= 0 && c.sha256;
};
const baseline = (der) => new X509Certificate(der);
const referenceAll = decodeReference && ((der) => {
  const c = decodeReference(new Uint8Array(der));
  return c.subject.length + c.issuer.length + c.commonNames.length + c.publicKey.algorithm.length >= 0 && c.sha256;
});

let parseSum = 0;
let baseSum = 0;
for (const [name, der] of certs) {
  const base = time(baseline, der);
  const parse = time(parseAll, der);
  parseSum += parse;
  baseSum += base;
  const ref = referenceAll ? `   former parser ${time(referenceAll, der).toFixed(1).padStart(7)} µs/cert` : '';
  console.log(`${name.padEnd(24)} parseCertificate ${parse.toFixed(1).padStart(7)} µs/cert   X509Certificate ${base.toFixed(1).padStart(7)} µs/cert   ratio ${(parse / base).toFixed(2)}${ref}`);
}
const parse_us = +(parseSum / certs.length).toFixed(1);
const baseline_us = +(baseSum / certs.length).toFixed(1);
console.log(JSON.stringify({ parse_us, baseline_us, ratio: +(parse_us / baseline_us).toFixed(2) }));
