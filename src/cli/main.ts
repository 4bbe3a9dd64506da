import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/env.js';
import { parseWorkers, serve } from './serve.js';
import { checkCert } from './check-cert.js';
import { keysCommand } from './keys.js';
import { loginCommand } from './login.js';
import { tokensCommand } from './tokens.js';
import { identitiesCommand, IDENTITIES_USAGE } from './identities.js';
import { agentCommand } from './agent.js';
import { devCertCommand } from './dev-cert.js';
import { openApiCommand } from './openapi.js';

const HELP: Record<string, string> = {
  '': `certgate — mTLS identity-exchange gateway

usage: certgate <verb> [options]    (npx certgate <verb> --help for each)

verbs:
  serve        run the gateway (default config: config/dev.yaml)
  login        log in with a client certificate and print the token response
  check-cert   explain which identity a certificate would log in as, without a store
  keys         list signing keys and their states, or write the next one
  tokens       revoke every token of an identity or of a certificate (writes to the store)
  identities   list, get, put or delete identities through a gateway's admin API
  check-config validate a configuration file and exit
  agent        keep a current token in a file, for workloads in any language
  dev-cert     issue a client certificate from the development CA of npm start
  openapi      print the OpenAPI 3.1 document of the HTTP API (as GET /openapi.json serves it)`,
  serve: `certgate serve [--config FILE] [--workers N]
  Runs the gateway. FILE defaults to $CERTGATE_CONFIG, else the embedded config/dev.yaml
  (in-memory store, dev PKI generated under .certgate-dev/).
  --workers N (default server.workers, else 1) runs N worker processes on the same ports; the
  process started is their primary: signal it. A worker that dies is replaced. More than one
  worker needs a Redis store (store.url "memory" is refused).
  SIGHUP, or a change of FILE, reloads it without a restart; a file that does not validate is
  logged with every problem and the running configuration stays.
  SIGTERM drains: /readyz answers 503, no new connections, requests in flight are
  answered, then exit 0 (within server.shutdownTimeout seconds, default 10).`,
  login: `certgate login --cert FILE --key FILE [--cacert FILE] [--url URL] [--identity ID]
  Logs in over certgate's direct mTLS listener (default URL https://127.0.0.1:8443) and prints
  the JSON token response.`,
  'check-cert': `certgate check-cert --cert FILE [--chain FILE] [--identity ID] [--config FILE]
  Validates a PEM certificate (and optional PEM chain) against the configured identities, exactly
  as a login would (including CRL checks when an identity configures them), without a store.
  Exit 0 when it would log in.`,
  keys: `certgate keys list|rotate [--config FILE]
  list: every key in keys.dir with its algorithm, state and dates; never creates a key.
    next      published in the JWKS, signs from its activation time
    active    signs every new token
    retiring  a newer key signs; published until the last token it signed has expired
    retired   out of the JWKS (the file stays; delete it when you like)
  rotate: write a new key (keys.algorithm) into keys.dir and print its kid and when it signs.
    Every gateway publishes it within 10 s and signs with it keys.publishBefore seconds after
    it was written, so downstreams that cache the JWKS know it before it signs.`,
  tokens: `certgate tokens revoke-identity ID [--config FILE]
  Revokes every token of identity ID issued until now, on every gateway sharing the store.
certgate tokens revoke-certificate --cert FILE | --sha256 HEX [--config FILE]
  Revokes every outstanding token issued from that certificate, on every gateway sharing the
  store, and refuses its logins (401 certificate_revoked) until its notAfter (with --sha256 for a
  certificate the store never saw: for one year).`,
  identities: IDENTITIES_USAGE,
  'check-config': `certgate check-config [--config FILE]
  Validates the configuration exactly as serve would, and exits 0 when it is valid.`,
  agent: `certgate agent --url URL --cert FILE --key FILE [--ca FILE] [--identity ID] --sink FILE
  Logs in at URL (certgate's mTLS listener or a load balancer in front of it) and keeps a current
  access token in the sink FILE (mode 0600, replaced atomically: a reader never sees a partial
  file). Renews the token before it expires, logs in again when renewal is refused, retries
  outages with backoff, and logs in with the certificate files again when they change. Logs one
  line per login, renewal and error, never the token. Exits 1 when the first login fails;
  SIGTERM exits 0.`,
  'dev-cert': `certgate dev-cert --cn NAME [--san DNS:name|IP:addr|URI:uri|EMAIL:addr …] [--out DIR]
  Issues a client certificate (CN=NAME) from the development CA in .certgate-dev/ (generated if
  missing), writes client-NAME.pem and client-NAME-key.pem to DIR (default .certgate-dev/) and
  prints the curl line that logs in with it. config/dev.yaml's identity "dev" accepts CN dev and dev-*.`,
  openapi: `certgate openapi [--config FILE]
  Prints the OpenAPI 3.1 document (JSON) that GET /openapi.json serves for FILE (also
  $CERTGATE_CONFIG): every route, its bodies, answers and error codes, FILE's routes: included.
  Without a config, the gateway's built-in routes only.`,
};

async function main(argv: string[]): Promise<number> {
  const verb = argv[0] && !argv[0].startsWith('-') ? argv[0] : '';
  const rest = verb ? argv.slice(1) : argv;
  if (!Object.hasOwn(HELP, verb)) {
    process.stderr.write(`certgate: unknown verb "${verb}"\n\n${HELP['']}\n`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      cacert: { type: 'string' },
      chain: { type: 'string' },
      url: { type: 'string' },
      identity: { type: 'string' },
      sha256: { type: 'string' },
      'admin-token': { type: 'string' },
      file: { type: 'string' },
      ca: { type: 'string' },
      sink: { type: 'string' },
      cn: { type: 'string' },
      san: { type: 'string', multiple: true },
      out: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || verb === '') {
    process.stdout.write((HELP[verb] ?? HELP['']!) + '\n');
    return values.help || verb === '' ? 0 : 2;
  }
  switch (verb) {
    case 'serve':
      await serve(values.config, { workers: parseWorkers(values.workers) });
      return -1; // keep running
    case 'check-config': {
      const { loadConfigFile } = await import('../config/load.js');
      const { DEFAULT_CONFIG } = await import('./paths.js');
      const file = values.config ?? process.env.CERTGATE_CONFIG ?? DEFAULT_CONFIG;
      const c = loadConfigFile(file);
      process.stdout.write(`${file}: valid (${c.identities.length} identities, ${c.trustedProxies.length} trusted proxies, store ${c.store.url === 'memory' ? 'memory' : 'redis'})\n`);
      return 0;
    }
    case 'check-cert':
      return checkCert(values);
    case 'keys':
      return keysCommand(positionals, values);
    case 'login':
      return loginCommand(values);
    case 'tokens':
      return tokensCommand(positionals, values);
    case 'identities':
      return identitiesCommand(positionals, values);
    case 'agent':
      return agentCommand(values);
    case 'dev-cert':
      return devCertCommand(values);
    case 'openapi':
      return openApiCommand(values);
  }
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e) => {
    if (e instanceof ConfigError) process.stderr.write(`certgate: invalid configuration: ${e.message}\n`);
    else process.stderr.write(`certgate: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  },
);
