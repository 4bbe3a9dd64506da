import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { MintedCert } from '../../src/pki/mint.js';

const crypto = webcrypto as unknown as Crypto;
export const HOUR = 3600_000;
export const DAY = 24 * HOUR;

/** A DER CRL issued by `ca` listing `revoked`, valid thisUpdate..nextUpdate (null: no nextUpdate field). */
export async function makeCrl(
  ca: MintedCert,
  opts: { revoked?: MintedCert[]; thisUpdate: Date; nextUpdate: Date | null },
): Promise<Uint8Array> {
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: ca.cert.subjectName,
      thisUpdate: opts.thisUpdate,
      nextUpdate: opts.nextUpdate ?? undefined,
      entries: (opts.revoked ?? []).map((m) => ({ serialNumber: m.cert.serialNumber, revocationDate: opts.thisUpdate })),
      extensions: [crlNumber()],
      signingKey: ca.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    },
    crypto,
  );
  return new Uint8Array(crl.rawData);
}

/** The cRLNumber extension RFC 5280 5.2.3 requires (certgate refuses CRLs without one). */
export const crlNumber = (n = 1) => new x509.Extension('2.5.29.20', false, Uint8Array.of(0x02, 0x01, n));

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A CRL distribution point on 127.0.0.1: serves `files[path]`, counts requests per path, and
 * takes per-path handlers for misbehaviour (slow, huge, redirect).
 */
export interface CrlServer {
  port: number;
  base: string;
  url(path: string): string;
  files: Map<string, Uint8Array>;
  handlers: Map<string, Handler>;
  hits(path: string): number;
  resetHits(): void;
  stop(): Promise<void>;
}

export async function startCrlServer(): Promise<CrlServer> {
  const files = new Map<string, Uint8Array>();
  const handlers = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const h = handlers.get(path);
    if (h) return h(req, res);
    const body = files.get(path);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length }).end(Buffer.from(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    url: (p) => base + p,
    files,
    handlers,
    hits: (p) => counts.get(p) ?? 0,
    resetHits: () => counts.clear(),
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
