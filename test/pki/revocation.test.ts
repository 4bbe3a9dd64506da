import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkRevocation, type RevocationInput } from '../../src/pki/revocation.js';
import { DAY, basicPki, mint } from './pki-fixtures.js';

type Minted = Awaited<ReturnType<typeof mint>>;
const crypto = webcrypto as unknown as Crypto;
const now = new Date();
const at = (days: number) => new Date(now.getTime() + days * DAY);

/** A CRL by `ca` (or signed with `signWith` under ca's name) listing `revoked`. */
async function crl(ca: Minted, opts: { revoked?: Minted[]; thisUpdate?: Date; nextUpdate?: Date; signWith?: CryptoKey } = {}): Promise<Uint8Array> {
  const c = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: opts.thisUpdate ?? at(-1),
    nextUpdate: opts.nextUpdate ?? at(7),
    entries: (opts.revoked ?? []).map((m) => ({ serialNumber: m.cert.serialNumber, revocationDate: at(-1) })),
    signingKey: opts.signWith ?? ca.keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
  }, crypto);
  return new Uint8Array(c.rawData);
}

/** Input with an in-memory "network" and "disk"; anything not listed fails to load. */
function input(path: Minted[], blobs: Record<string, Uint8Array>, rest: Partial<RevocationInput>): RevocationInput {
  const get = async (k: string) => {
    const b = blobs[k];
    if (!b) throw new Error(`ENOENT ${k}`);
    return b;
  };
  return { path: path.map((m) => m.parsed), sources: {}, now, onUnavailable: 'failClosed', fetchCrl: get, readCrlFile: get, ...rest };
}

const refusal = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

describe('checkRevocation', () => {
  let pki: Awaited<ReturnType<typeof basicPki>>;
  let chain: Minted[];
  beforeAll(async () => {
    pki = await basicPki('Rev');
    chain = [pki.leaf, pki.int, pki.root];
  });

  it('passes a leaf absent from a fresh CRL given by URL', async () => {
    const r = await checkRevocation(input(chain, { 'http://crl/int': await crl(pki.int) }, { sources: { urls: ['http://crl/int'] } }));
    expect(r.unavailable).toEqual([]);
  });

  it('refuses a leaf listed in a CRL file', async () => {
    const blobs = { '/etc/int.crl': await crl(pki.int, { revoked: [pki.leaf] }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['/etc/int.crl'] } })))).toBe('certificate_revoked');
  });

  it('accepts a PEM-encoded CRL', async () => {
    const der = await crl(pki.int, { revoked: [pki.leaf] });
    const pem = new TextEncoder().encode(`-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64')}\n-----END X509 CRL-----\n`);
    expect(await refusal(checkRevocation(input(chain, { f: pem }, { sources: { files: ['f'] } })))).toBe('certificate_revoked');
  });

  it('refuses a leaf listed at its CRL distribution point (fromCertificate)', async () => {
    const leaf = await mint({ subject: 'CN=dp', issuer: pki.int, crlDistributionPoints: ['http://crl.corp/int.crl'] });
    const blobs = { 'http://crl.corp/int.crl': await crl(pki.int, { revoked: [leaf] }) };
    expect(await refusal(checkRevocation(input([leaf, pki.int, pki.root], blobs, { sources: { fromCertificate: true } })))).toBe('certificate_revoked');
  });

  it('refuses a revoked intermediate', async () => {
    const blobs = { a: await crl(pki.int), b: await crl(pki.root, { revoked: [pki.int] }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a', 'b'] } })))).toBe('certificate_revoked');
  });

  it('a stale CRL: refused under failClosed, passes under failOpen with the reason', async () => {
    const blobs = { a: await crl(pki.int, { thisUpdate: at(-10), nextUpdate: at(-1) }) };
    const sources = { files: ['a'] };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources })))).toBe('revocation_unavailable');
    const r = await checkRevocation(input(chain, blobs, { sources, onUnavailable: 'failOpen' }));
    expect(r.unavailable.join('\n')).toMatch(/stale/);
  });

  it('a not-yet-valid CRL is not current', async () => {
    const blobs = { a: await crl(pki.int, { thisUpdate: at(1), nextUpdate: at(8) }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })))).toBe('revocation_unavailable');
  });

  it('a stale CRL that lists the serial still revokes, even under failOpen', async () => {
    const blobs = { a: await crl(pki.int, { revoked: [pki.leaf], thisUpdate: at(-10), nextUpdate: at(-1) }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] }, onUnavailable: 'failOpen' })))).toBe('certificate_revoked');
  });

  it('a CRL under the CA name but signed by another key is not evidence of anything', async () => {
    const rogue = await mint({ subject: 'CN=Rogue', ca: true });
    const blobs = { a: await crl(pki.int, { revoked: [pki.leaf], signWith: rogue.keys.privateKey }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })))).toBe('revocation_unavailable');
    const r = await checkRevocation(input(chain, blobs, { sources: { files: ['a'] }, onUnavailable: 'failOpen' }));
    expect(r.unavailable.join('\n')).toMatch(/not signed by/);
  });

  it('an unreachable CRL URL: refused under failClosed, tolerated under failOpen', async () => {
    const sources = { urls: ['http://down/int.crl'] };
    expect(await refusal(checkRevocation(input(chain, {}, { sources })))).toBe('revocation_unavailable');
    const r = await checkRevocation(input(chain, {}, { sources, onUnavailable: 'failOpen' }));
    expect(r.unavailable.join('\n')).toMatch(/could not be loaded/);
  });

  it('garbage instead of a CRL is unavailable', async () => {
    expect(await refusal(checkRevocation(input(chain, { a: new Uint8Array([1, 2, 3]) }, { sources: { files: ['a'] } })))).toBe('revocation_unavailable');
  });

  it('only a CRL of an unrelated CA leaves the leaf uncovered', async () => {
    const other = await basicPki('Unrelated');
    const blobs = { a: await crl(other.int, { revoked: [pki.leaf] }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })))).toBe('revocation_unavailable');
  });

  it('a pinned leaf (path of one) has nothing to check', async () => {
    expect(await checkRevocation(input([pki.leaf], {}, { sources: { urls: ['http://down'] } }))).toEqual({ unavailable: [] });
  });
});
