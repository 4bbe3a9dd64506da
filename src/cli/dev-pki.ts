import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintCertificate } from '../pki/mint.js';

export const DEV_FILES = ['ca.pem', 'server.pem', 'server-key.pem', 'client.pem', 'client-key.pem'] as const;

/**
 * The playground PKI of `npm start`: a CA, a server certificate for localhost/127.0.0.1/::1 and a
 * client certificate (CN=dev) for the `dev` identity. Generated once; kept across restarts.
 */
export async function ensureDevPki(dir: string): Promise<boolean> {
  if (DEV_FILES.every((f) => existsSync(join(dir, f)))) return false;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const year = 365 * 24 * 3600 * 1000;
  const notAfter = new Date(Date.now() + 2 * year);
  const ca = await mintCertificate({ subject: 'CN=certgate dev CA, O=certgate', ca: true, pathLen: 0, notAfter });
  const server = await mintCertificate({
    subject: 'CN=localhost',
    issuer: ca,
    eku: ['serverAuth'],
    san: [{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' }],
    notAfter,
  });
  const client = await mintCertificate({ subject: 'CN=dev, O=certgate dev', issuer: ca, eku: ['clientAuth'], notAfter });
  const write = (name: string, data: string, mode = 0o644) => writeFileSync(join(dir, name), data, { mode });
  write('ca.pem', ca.pem);
  write('ca-key.pem', ca.keyPem, 0o600);
  write('server.pem', server.pem);
  write('server-key.pem', server.keyPem, 0o600);
  write('client.pem', client.pem);
  write('client-key.pem', client.keyPem, 0o600);
  return true;
}
