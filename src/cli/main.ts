import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/env.js';
import { serve } from './serve.js';
import { checkCert } from './check-cert.js';
import { keysCommand } from './keys.js';
import { loginCommand } from './login.js';
import { tokensCommand } from './tokens.js';

const HELP: Record<string, string> = {
  '': `certgate — mTLS identity-exchange gateway

usage: certgate <verb> [options]    (npx certgate <verb> --help for each)

verbs:
  serve        run the gateway (default config: config/dev.yaml)
  login        log in with a client certificate and print the token response
  check-cert   explain which identity a certificate would log in as, without a store
  keys         list signing keys, or generate the next one
  tokens       revoke every token of an identity or of a certificate (writes to the store)
  check-config validate a configuration file and exit`,
  serve: `certgate serve [--config FILE]
  Runs the gateway. FILE defaults to $CERTGATE_CONFIG, else the embedded config/dev.yaml
  (in-memory store, dev PKI generated under .certgate-dev/).`,
  login: `certgate login --cert FILE --key FILE [--cacert FILE] [--url URL] [--identity ID]
  Logs in over certgate's direct mTLS listener (default URL https://127.0.0.1:8443) and prints
  the JSON token response.`,
  'check-cert': `certgate check-cert --cert FILE [--chain FILE] [--identity ID] [--config FILE]
  Validates a PEM certificate (and optional PEM chain) against the configured identities, exactly
  as a login would (including CRL checks when an identity configures them), without a store.
  Exit 0 when it would log in.`,
  keys: `certgate keys list|rotate [--config FILE]
  list: the kids in keys.dir (the newest signs). rotate: generate a new key; it is published in the
  JWKS and signs from the next start. Publish before signing: some downstreams never refetch.`,
  tokens: `certgate tokens revoke-identity ID [--config FILE]
  Revokes every token of identity ID issued until now, on every gateway sharing the store.
certgate tokens revoke-certificate --cert FILE | --sha256 HEX [--config FILE]
  Revokes every outstanding token issued from that certificate, on every gateway sharing the
  store, and refuses its logins (401 certificate_revoked) until its notAfter (with --sha256 for a
  certificate the store never saw: for one year).`,
  'check-config': `certgate check-config [--config FILE]
  Validates the configuration exactly as serve would, and exits 0 when it is valid.`,
};

async function main(argv: string[]): Promise<number> {
  const verb = argv[0] && !argv[0].startsWith('-') ? argv[0] : '';
  const rest = verb ? argv.slice(1) : argv;
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
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !(verb in HELP) || (verb === '' && !values.help)) {
    process.stdout.write((HELP[verb] ?? HELP['']!) + '\n');
    return values.help || verb === '' ? 0 : 2;
  }
  switch (verb) {
    case 'serve':
      await serve(values.config);
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
