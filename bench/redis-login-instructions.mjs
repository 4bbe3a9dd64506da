#!/usr/bin/env node
// Redis's own work per warm login, counted in instructions rather than timed: `node
// bench/redis-login-instructions.mjs [N]` starts redis-server under valgrind's callgrind on a
// loopback port of its own, makes 300 logins through RedisTokenStore.putAndIndex (dist/) to warm
// it, zeroes the counters, makes N more (default 2,000; four at a time, one certificate, limits
// counted but out of reach, as `npm run bench`'s login_warm) and prints the instructions redis-server
// ran per login, then the commands it ran per login (INFO commandstats).
// Why instructions: on a shared 2-core machine the CPU time of a ~50 µs script varies by ±15 %
// from run to run, more than most changes to it; callgrind's count varies by well under 1 %.
// Needs valgrind (apt-get install valgrind); not part of `npm test`.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, root } from './lib.mjs';

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('valgrind is not installed: apt-get install valgrind');
  process.exit(2);
}
const N = Number(process.argv[2] ?? 2000);
const { RedisTokenStore } = await import(join(root, 'dist/store/redis.js'));
const { default: Redis } = await import('ioredis');
const dir = mkdtempSync(join(tmpdir(), 'certgate-callgrind-'));
const port = await freePort();
const server = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`, 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const admin = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 200, lazyConnect: false });
admin.on('error', () => {});
await admin.ping();
const store = new RedisTokenStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 20_000 });
const cert = { sha256: 'ab'.repeat(32), issuer: 'CN=Issuing CA,O=Example', serial: '0a1b2c3d4e5f', notAfter: Date.now() + 86_400_000, path: ['A'.repeat(700), 'B'.repeat(700)] };
const limits = { identityRate: { limit: 1e9, windowMs: 60_000 }, addressRate: { bucket: 'ip:127.0.0.1', limit: 1e9, windowMs: 60_000 }, maxOutstanding: 1e8 };

async function logins(n) {
  let started = 0;
  const one = async () => {
    while (started < n) {
      started++;
      const now = Date.now();
      const record = {
        jti: randomUUID(), identityId: 'build-agents', subject: 'CN=agent-1,O=Example', scopes: ['certificates:request'],
        createdAt: now, expiresAt: now + 600_000, maxExpiresAt: now + 3_600_000, usesLimit: 100, usesRemaining: 100,
        trustedIps: ['127.0.0.0/8'], certSha256: cert.sha256, revoked: false, certIssuer: cert.issuer, certSerial: cert.serial,
      };
      await store.putAndIndex(record, cert, limits, now);
    }
  };
  await Promise.all([one(), one(), one(), one()]);
}

try {
  await logins(300);
  execFileSync('callgrind_control', ['--zero', String(server.pid)], { stdio: 'ignore' });
  await admin.config('RESETSTAT');
  await logins(N);
  const stats = await admin.info('commandstats');
  execFileSync('callgrind_control', ['--dump=measured', String(server.pid)], { stdio: 'ignore' });
  let dump;
  for (let i = 0; i < 50 && !dump; i++) {
    dump = readdirSync(dir).find((f) => f !== 'out' && f.startsWith('out'));
    if (!dump) await new Promise((r) => setTimeout(r, 100));
  }
  const summary = execFileSync('callgrind_annotate', [join(dir, dump)], { encoding: 'utf8' });
  const total = Number(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(summary)[1].replace(/,/g, ''));
  const commands = {};
  for (const m of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (!['config', 'info'].includes(m[1])) commands[m[1]] = Number((Number(m[2]) / N).toFixed(2));
  console.log(JSON.stringify({ logins: N, redis_instructions_per_login: Math.round(total / N), commands_per_login: commands }));
} finally {
  await store.close();
  admin.disconnect();
  server.kill('SIGKILL');
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
