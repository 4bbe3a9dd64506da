#!/usr/bin/env node
// Log in to certgate with a client certificate, then call a protected route with the token.
//
//   node login.mjs --url https://certgate.example.com --cert client.pem --key client-key.pem \
//                  --ca ca.pem [--identity ID] [--call /api/v1/auth/token/self]
//
// Every option can come from the environment instead: CERTGATE_URL, CERTGATE_CLIENT_CERT,
// CERTGATE_CLIENT_KEY, CERTGATE_CA, CERTGATE_IDENTITY, CERTGATE_CALL. --url is the TLS endpoint
// that asks for the client certificate: your load balancer, or certgate's own mTLS listener.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { parseArgs } from 'node:util';
import axios from 'axios';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.CERTGATE_URL ?? 'https://127.0.0.1:8443' },
    cert: { type: 'string', default: process.env.CERTGATE_CLIENT_CERT },
    key: { type: 'string', default: process.env.CERTGATE_CLIENT_KEY },
    ca: { type: 'string', default: process.env.CERTGATE_CA },
    identity: { type: 'string', default: process.env.CERTGATE_IDENTITY },
    call: { type: 'string', default: process.env.CERTGATE_CALL ?? '/api/v1/auth/token/self' },
  },
});
if (!opt.cert || !opt.key) {
  console.error('usage: login.mjs --url URL --cert client.pem --key client-key.pem [--ca ca.pem] [--identity ID] [--call PATH]');
  process.exit(2);
}

// The CA that signed the server certificate of --url; without --ca, the system trust store.
const ca = opt.ca ? readFileSync(opt.ca) : undefined;
const base = opt.url.replace(/\/$/, '');

// The login connection presents the certificate (and any intermediates in the same file). The TLS
// handshake proves we hold the key; certgate then maps the certificate to an identity.
const loginAgent = new Agent({ cert: readFileSync(opt.cert), key: readFileSync(opt.key), ca });
// Later calls need no certificate: the token is the credential.
const plainAgent = new Agent({ ca });

// Every non-2xx answer from certgate is JSON {statusCode, error, message, reqId}: show it as is.
const check = (res) => {
  if (res.status >= 200 && res.status < 300) return res;
  console.error(`HTTP ${res.status} ${res.config.method?.toUpperCase()} ${res.config.url}: ${JSON.stringify(res.data)}`);
  process.exit(1);
};

try {
  const login = check(
    await axios.post(`${base}/api/v1/auth/tls-cert-auth/login`, opt.identity ? { identityId: opt.identity } : {}, {
      httpsAgent: loginAgent,
      validateStatus: () => true,
    }),
  );
  const { accessToken, expiresIn, accessTokenMaxTTL, tokenType } = login.data;
  // Never print the token itself: logs end up in places tokens must not.
  console.error(`logged in: ${tokenType} token, expires in ${expiresIn}s (renewable up to ${accessTokenMaxTTL}s)`);

  const res = check(
    await axios.get(`${base}${opt.call}`, {
      httpsAgent: plainAgent,
      headers: { authorization: `Bearer ${accessToken}` },
      validateStatus: () => true,
    }),
  );
  console.log(typeof res.data === 'string' ? res.data : JSON.stringify(res.data, null, 2));
} catch (e) {
  // Network and TLS errors (unknown server CA, refused connection, …).
  console.error(`request failed: ${e.code ?? ''} ${e.message}`);
  process.exit(1);
} finally {
  loginAgent.destroy();
  plainAgent.destroy();
}
