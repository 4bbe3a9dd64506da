import { createPrivateKey, webcrypto } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as x509 from '@peculiar/x509';
import { loadConfigFile } from '../config/load.js';
import { mintCertificate, type MintedCert, type SanEntry } from '../pki/mint.js';
import { ensureDevPki } from './dev-pki.js';
import { DEFAULT_CONFIG, DEV_PKI_DIR } from './paths.js';

const SAN_TYPES: Record<string, SanEntry['type']> = { DNS: 'dns', IP: 'ip', URI: 'uri', EMAIL: 'email' };
/** The names config/dev.yaml's identity `dev` accepts. */
const DEV_NAMES = /^dev(-.*)?$/;

/**
 * `certgate dev-cert --cn NAME [--san DNS:x …] [--out DIR]`: a client certificate from the
 * playground's dev CA, so a second (third…) client can try the quick start.
 */
export async function devCertCommand(a: { cn?: string; san?: string[]; out?: string }): Promise<number> {
  if (!a.cn || !/^[A-Za-z0-9._-]{1,64}$/.test(a.cn)) {
    process.stderr.write('certgate dev-cert: --cn NAME is required (letters, digits, ".", "_", "-")\n');
    return 2;
  }
  const san: SanEntry[] = [];
  for (const s of a.san ?? []) {
    const i = s.indexOf(':');
    const type = SAN_TYPES[s.slice(0, i).toUpperCase()];
    if (i < 1 || !type) {
      process.stderr.write(`certgate dev-cert: --san ${s}: expected DNS:name, IP:address, URI:uri or EMAIL:address\n`);
      return 2;
    }
    san.push({ type, value: s.slice(i + 1) });
  }
  if (await ensureDevPki(DEV_PKI_DIR)) process.stderr.write(`certgate: generated a development PKI in ${DEV_PKI_DIR}\n`);
  const ca = await loadIssuer(join(DEV_PKI_DIR, 'ca.pem'), join(DEV_PKI_DIR, 'ca-key.pem'));
  const notAfter = new Date(Math.min(Date.now() + 365 * 24 * 3600 * 1000, ca.cert.notAfter.getTime()));
  const leaf = await mintCertificate({ subject: `CN=${a.cn}, O=certgate dev`, issuer: ca, eku: ['clientAuth'], san, notAfter });

  const out = resolve(a.out ?? DEV_PKI_DIR);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const certFile = join(out, `client-${a.cn}.pem`);
  const keyFile = join(out, `client-${a.cn}-key.pem`);
  writeFileSync(certFile, leaf.pem, { mode: 0o644 });
  writeFileSync(keyFile, leaf.keyPem, { mode: 0o600 });

  const rel = (f: string) => relative(process.cwd(), f) || f;
  const port = loadConfigFile(DEFAULT_CONFIG).server.tls?.port ?? 8443;
  const login =
    `  curl --cert ${rel(certFile)} --key ${rel(keyFile)} --cacert ${rel(join(DEV_PKI_DIR, 'ca.pem'))} \\\n` +
    `       -X POST https://127.0.0.1:${port}/api/v1/auth/tls-cert-auth/login\n`;
  const note = DEV_NAMES.test(a.cn)
    ? `Log in with it (npm start running, identity "dev"):\n\n${login}`
    : `config/dev.yaml's identity "dev" accepts only CN dev and dev-*: to log in as "${a.cn}", add it to\n` +
      `allowedCommonNames there (or give it an identity of its own), restart, then:\n\n${login}`;
  process.stdout.write(`wrote ${rel(certFile)}\nwrote ${rel(keyFile)} (mode 0600)\nissued by ${rel(join(DEV_PKI_DIR, 'ca.pem'))}\n\n${note}`);
  return 0;
}

/** The dev CA as an issuer for mintCertificate: its certificate and its private key. */
async function loadIssuer(certFile: string, keyFile: string): Promise<MintedCert> {
  const pem = readFileSync(certFile, 'utf8');
  const keyPem = readFileSync(keyFile, 'utf8');
  const key = createPrivateKey(keyPem);
  const curve = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
  const alg = key.asymmetricKeyType === 'ec' ? { name: 'ECDSA', namedCurve: curve } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), alg, false, ['sign']);
  const cert = new x509.X509Certificate(pem);
  return { der: new Uint8Array(cert.rawData), pem, keyPem, subject: cert.subject, cert, keys: { privateKey, publicKey: await cert.publicKey.export(webcrypto as unknown as Crypto) } as CryptoKeyPair };
}
