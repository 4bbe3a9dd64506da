import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { isCertgateError } from '../errors.js';
import { authenticateCertificate } from '../identity/authenticate.js';
import { compileIdentity } from '../identity/policy.js';
import { parsePemBundle } from '../pki/parsing/certificate.js';
import { createRevocationChecker } from '../revocation/checker.js';
import { systemClock } from '../util/clock.js';
import { configFrom } from './config-file.js';

/**
 * Dry run of a login: the same validation, policy and revocation code, without a gateway or a
 * store. The only network use is fetching the CRLs and OCSP answers an identity's revocation block names.
 */
export async function checkCert(values: { config?: string; cert?: string; chain?: string; identity?: string }): Promise<number> {
  if (!values.cert) {
    process.stderr.write('certgate check-cert: --cert FILE is required\n');
    return 2;
  }
  const config = configFrom(values);
  const [leaf, ...extra] = parsePemBundle(readFileSync(values.cert, 'utf8'));
  if (!leaf) throw new Error(`${values.cert} holds no certificate`);
  const chain = [...extra, ...(values.chain ? parsePemBundle(readFileSync(values.chain, 'utf8')) : [])];
  process.stdout.write(`certificate: ${leaf.subject}\n  sha256: ${leaf.sha256}\n  not after: ${leaf.notAfter.toISOString()}\n`);
  // failOpen warnings (which CRL could not be checked, and why) go to stderr.
  const revocation = createRevocationChecker({ clock: systemClock, log: pino({ level: 'warn', base: null }, pino.destination({ dest: 2, sync: true })) });
  try {
    const auth = await authenticateCertificate({
      cert: { leaf, chain },
      clientIp: '127.0.0.1',
      identityId: values.identity,
      identities: config.identities.map(compileIdentity),
      now: new Date(),
      revocation,
    });
    process.stdout.write(`would log in as identity "${auth.identity.config.id}" via ${auth.path.map((c) => c.subject).join(' <- ')}\n`);
    return 0;
  } catch (e) {
    if (!isCertgateError(e)) throw e;
    process.stdout.write(`refused: ${e.code}: ${e.message}\n`);
    return 1;
  } finally {
    await revocation.close();
  }
}
