import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintCertificate, type MintedCert, type MintOptions } from '../../src/pki/mint.js';

export type { MintedCert };

/** A small PKI most HTTP suites share: two roots, an intermediate under root A, a server cert. */
export interface TestPki {
  rootA: MintedCert;
  rootB: MintedCert;
  interA: MintedCert;
  rogue: MintedCert;
  server: MintedCert;
  leaf(opts: Partial<MintOptions> & { cn?: string }): Promise<MintedCert>;
}

export async function makeTestPki(): Promise<TestPki> {
  const rootA = await mintCertificate({ subject: 'CN=Test Root A, O=certgate tests', ca: true });
  const rootB = await mintCertificate({ subject: 'CN=Test Root B, O=certgate tests', ca: true });
  const interA = await mintCertificate({ subject: 'CN=Test Intermediate A, O=certgate tests', ca: true, pathLen: 0, issuer: rootA });
  const rogue = await mintCertificate({ subject: 'CN=Rogue Root', ca: true });
  const server = await mintCertificate({
    subject: 'CN=localhost',
    issuer: rootA,
    eku: ['serverAuth'],
    san: [{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }],
  });
  return {
    rootA,
    rootB,
    interA,
    rogue,
    server,
    leaf: ({ cn = 'agent-1', ...o }) => mintCertificate({ subject: `CN=${cn}, O=certgate tests`, issuer: interA, ...o }),
  };
}

/** nginx's $ssl_client_escaped_cert encoding of one or more PEM certificates. */
export function nginxEscaped(...certs: MintedCert[]): string {
  return encodeURIComponent(certs.map((c) => c.pem).join(''));
}

export function writePem(dir: string, name: string, data: string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
