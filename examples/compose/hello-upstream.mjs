// The example upstream of docker-compose.yml: a service that trusts certgate, not certificates.
// certgate forwards /api/hello here with its own short-lived JWT (routes[].upstreamAuth); this
// server verifies it against certgate's JWKS — signature (ES256), iss, aud, exp — and answers
// with who called. Plain Node, no dependencies.
import { createServer } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';

const PORT = Number(process.env.PORT ?? 9000);
const JWKS_URL = process.env.JWKS_URL ?? 'http://certgate:8080/.well-known/jwks.json';
const ISSUER = process.env.ISSUER ?? 'https://localhost:8443';
const AUDIENCE = process.env.AUDIENCE ?? 'http://hello:9000';

let jwks = new Map();
async function keyFor(kid) {
  // Refetch on an unknown kid: certgate publishes a rotated key before signing with it.
  if (!jwks.has(kid)) {
    const res = await fetch(JWKS_URL);
    const { keys } = await res.json();
    jwks = new Map(keys.map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]));
  }
  return jwks.get(kid);
}

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

async function verifyJwt(token) {
  const [h, p, s] = token.split('.');
  if (!s) throw new Error('not a JWT');
  const header = b64json(h);
  if (header.alg !== 'ES256') throw new Error(`unexpected alg ${header.alg}`);
  const key = await keyFor(header.kid);
  if (!key) throw new Error('unknown kid');
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('bad signature');
  const claims = b64json(p);
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== ISSUER) throw new Error('wrong issuer');
  if (![claims.aud].flat().includes(AUDIENCE)) throw new Error('wrong audience');
  if (typeof claims.exp !== 'number' || claims.exp < now) throw new Error('expired');
  return claims;
}

createServer(async (req, res) => {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/healthz') return send(200, { status: 'ok' });
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return send(401, { error: 'missing bearer token' });
  try {
    const claims = await verifyJwt(m[1]);
    send(200, { hello: claims.sub, scope: claims.scope, path: req.url });
  } catch (e) {
    send(401, { error: e.message });
  }
}).listen(PORT, '0.0.0.0', () => console.log(`hello upstream on :${PORT}`));
