#!/usr/bin/env node
// Floor servers: plain node:http doing the least work each certgate path needs, with the same
// libraries (ioredis with its defaults, jose, node:crypto). certgate's figure divided by its floor's
// (same run, same load generator) is `ratio_to_floor`: how much of its own stack's ceiling it
// reaches.
//   forward     one Lua EVAL (EVALSHA via defineCommand) reading a token record; 204
//   login_warm  read and JSON.parse the body, one ES256 JWT signature (jose), one Redis write
//   login_cold  login_warm plus decoding the forwarded PEM certificate, parsing it
//               (node:crypto X509Certificate) and verifying its signature with the CA's key
// Usage: node bench/floor.mjs MODE PORT REDIS_URL [CA_PEM_FILE]
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { SignJWT, generateKeyPair } from 'jose';

const [mode, port, redisUrl, caFile] = process.argv.slice(2);
const redis = new Redis(redisUrl);
const ca = caFile ? new X509Certificate(readFileSync(caFile)) : undefined;
const { privateKey } = await generateKeyPair('ES256');

const RECORD_KEY = 'floor:token';
redis.defineCommand('floorCheck', {
  numberOfKeys: 1,
  lua: "local r = redis.call('HGETALL', KEYS[1]) if #r == 0 then return nil end return {'ok', r}",
});
await redis.hset(RECORD_KEY, { jti: randomUUID(), identityId: 'bench', subject: 'CN=bench-warm', scopes: '[]', createdAt: Date.now(), expiresAt: Date.now() + 3.6e6, maxExpiresAt: Date.now() + 8.64e7, usesLimit: 0, usesRemaining: 0, trustedIps: '["0.0.0.0/0","::/0"]', certSha256: 'a'.repeat(64), revoked: 0 });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function login(req, res, cold) {
  const body = JSON.parse((await readBody(req)) || '{}');
  let subject = 'CN=bench-warm';
  if (cold) {
    const cert = new X509Certificate(decodeURIComponent(req.headers['x-ssl-client-cert']));
    if (!cert.verify(ca.publicKey)) throw new Error('signature');
    subject = cert.subject;
  }
  const jti = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: body.identityId ?? 'bench', jti, scope: '', subject })
    .setProtectedHeader({ alg: 'ES256', kid: 'floor', typ: 'at+jwt' })
    .setIssuer('https://bench.certgate.test').setAudience('certgate').setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 3600)
    .sign(privateKey);
  await redis.set(`floor:t:${jti}`, JSON.stringify({ identityId: 'bench', subject, createdAt: Date.now() }), 'PX', 3_600_000);
  const out = JSON.stringify({ accessToken: token, expiresIn: 3600, accessTokenMaxTTL: 86400, tokenType: 'Bearer' });
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(out);
}

async function forward(req, res) {
  const auth = req.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ')) throw new Error('no token');
  const r = await redis.floorCheck(RECORD_KEY);
  if (!r) throw new Error('no record');
  res.writeHead(204, { 'x-certgate-identity': 'bench', 'x-certgate-subject': 'CN=bench-warm' });
  res.end();
}

const handler = mode === 'forward' ? forward : (req, res) => login(req, res, mode === 'login_cold');
createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  handler(req, res).catch((e) => {
    res.statusCode = 500;
    res.end(String(e.message));
  });
}).listen(Number(port), '127.0.0.1');
