#!/usr/bin/env node
// Log in to certgate with a client certificate, then call a protected route with the token,
// using the package's own client (`certgate/client`).
//
//   node login.mjs --url https://certgate.example.com --cert client.pem --key client-key.pem \
//                  --ca ca.pem [--identity ID] [--call /api/v1/auth/token/self]
//
// Every option can come from the environment instead: CERTGATE_URL, CERTGATE_CLIENT_CERT,
// CERTGATE_CLIENT_KEY, CERTGATE_CA, CERTGATE_IDENTITY, CERTGATE_CALL. --url is the TLS endpoint
// that asks for the client certificate: your load balancer, or certgate's own mTLS listener.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CertgateClient, CertgateClientError } from 'certgate/client';

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

const client = new CertgateClient({
  url: opt.url,
  cert: readFileSync(opt.cert), // the leaf, then any intermediates, in one PEM file
  key: readFileSync(opt.key),
  ca: opt.ca ? readFileSync(opt.ca) : undefined, // CA of the server certificate at --url
  identityId: opt.identity,
  // Never print the token itself: logs end up in places tokens must not.
  onEvent: (e) => e.type === 'login' && console.error(`logged in: Bearer token, expires in ${e.expiresIn}s (renewable up to ${e.accessTokenMaxTTL}s)`),
});

try {
  // client.fetch logs in on first use (the TLS handshake proves we hold the key), then sends
  // Authorization: Bearer … ; a long-running workload keeps calling it and the client renews.
  const res = await client.fetch(opt.call);
  const text = await res.text();
  if (!res.ok) {
    console.error(`HTTP ${res.status} GET ${opt.call}: ${text}`);
    process.exitCode = 1;
  } else {
    try {
      console.log(JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      console.log(text);
    }
  }
} catch (e) {
  // certgate's refusal as its JSON answer, e.g. {"statusCode":401,"error":"certificate_required",…};
  // otherwise a network or TLS error (unknown server CA, refused connection, …).
  const err = e instanceof CertgateClientError ? e : e?.cause instanceof CertgateClientError ? e.cause : undefined;
  console.error(err?.body ? JSON.stringify(err.body) : `request failed: ${err?.code ?? e?.code ?? ''} ${err?.message ?? e.message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
