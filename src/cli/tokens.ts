import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { IDENTITY_ID } from '../config/schema.js';
import { parsePemBundle } from '../pki/parsing/certificate.js';
import { normalizeSha256 } from '../pki/parsing/certificate-id.js';
import { CertificateRevocations } from '../revocation/certificate-revocations.js';
import { storeFromConfig } from '../store/from-config.js';
import type { CertificateSelector } from '../store/types.js';
import { systemClock } from '../util/clock.js';
import { configFrom } from './config-file.js';

const USAGE = 'usage: certgate tokens revoke-identity ID [--config FILE]\n       certgate tokens revoke-certificate --cert FILE | --sha256 HEX [--config FILE]\n';

export async function tokensCommand(args: string[], values: { config?: string; cert?: string; sha256?: string }): Promise<number> {
  const [sub, id] = args;
  if (sub === 'revoke-certificate') return revokeCertificate(values);
  if (sub !== 'revoke-identity' || !id) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = configFrom(values);
  if (!IDENTITY_ID.test(id)) {
    process.stderr.write(`certgate: "${id}" is not an identity id ([a-z0-9._-]{1,128})\n`);
    return 2;
  }
  if (config.store.url === 'memory') {
    process.stderr.write('certgate: the in-memory store lives inside the running gateway; use POST /api/v1/admin/identities/ID/revoke-tokens\n');
    return 1;
  }
  const store = storeFromConfig(config);
  try {
    const at = Date.now();
    await store.revokeIdentity(id, at);
    process.stdout.write(`revoked every token of "${id}" issued until ${new Date(at).toISOString()}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * Revokes a certificate through the store, as the admin API does. With --cert the notAfter is
 * known, so the login marker lasts exactly until it even for a certificate the store never saw.
 */
async function revokeCertificate(values: { config?: string; cert?: string; sha256?: string }): Promise<number> {
  if ((values.cert === undefined) === (values.sha256 === undefined)) {
    process.stderr.write('certgate tokens revoke-certificate: give exactly one of --cert FILE or --sha256 HEX\n' + USAGE);
    return 2;
  }
  let selector: CertificateSelector;
  let notAfter: number | undefined;
  if (values.cert !== undefined) {
    const [leaf] = parsePemBundle(readFileSync(values.cert, 'utf8'));
    if (!leaf) throw new Error(`${values.cert} holds no certificate`);
    selector = { sha256: leaf.sha256, issuer: leaf.issuer, serial: leaf.serial };
    notAfter = leaf.notAfter.getTime();
  } else {
    const sha256 = normalizeSha256(values.sha256!);
    if (!sha256) {
      process.stderr.write(`certgate: "${values.sha256}" is not a SHA-256 (64 hex digits, colons allowed)\n`);
      return 2;
    }
    selector = { sha256 };
  }
  const config = configFrom(values);
  if (config.store.url === 'memory') {
    process.stderr.write('certgate: the in-memory store lives inside the running gateway; use POST /api/v1/admin/certificates/revoke\n');
    return 1;
  }
  const store = storeFromConfig(config);
  // The audit line goes to stderr; stdout carries the one-line answer.
  const log = pino({ level: 'info', base: { svc: 'certgate-cli' } }, pino.destination({ dest: 2, sync: true }));
  try {
    const revocations = new CertificateRevocations({ store, log, clock: systemClock });
    const r = await revocations.revoke(selector, { source: 'cli', by: 'cli', notAfter });
    const which = selector.sha256 ?? `${selector.issuer} serial ${selector.serial}`;
    const seen = r.certificates.length > 0 ? '' : ' (never seen by this store: its logins are refused from now on)';
    process.stdout.write(`revoked certificate ${which}: ${r.tokens} token(s) revoked${seen}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
