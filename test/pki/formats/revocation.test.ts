import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS, checkRevocation, type RevocationInput } from '../../../src/pki/formats/revocation.js';
import { DAY, basicPki, mint } from '../pki-fixtures.js';

type Minted = Awaited<ReturnType<typeof mint>>;
const crypto = webcrypto as unknown as Crypto;
const now = new Date();
const at = (days: number) => new Date(now.getTime() + days * DAY);

/** A CRL by `ca` (or signed with `signWith` under ca's name) listing `revoked`. */
async function crl(ca: Minted, opts: { revoked?: Minted[]; thisUpdate?: Date; nextUpdate?: Date | null; signWith?: CryptoKey; extensions?: x509.Extension[]; reason?: number } = {}): Promise<Uint8Array> {
  const c = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: opts.thisUpdate ?? at(-1),
    // null: a CRL without the (optional in the ASN.1, required by RFC 5280) nextUpdate field.
    nextUpdate: opts.nextUpdate === null ? undefined : (opts.nextUpdate ?? at(7)),
    entries: (opts.revoked ?? []).map((m) => ({ serialNumber: m.cert.serialNumber, revocationDate: at(-1), reason: opts.reason })),
    // RFC 5280 5.2.3 requires the CRL number; `extensions` replaces the default (tests of its absence).
    extensions: opts.extensions ?? [CRL_NUMBER],
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

/** cRLNumber 1: RFC 5280 5.2.3 requires it, and certgate refuses CRLs without one. */
const CRL_NUMBER = new x509.Extension('2.5.29.20', false, Uint8Array.of(0x02, 0x01, 0x01));

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

  it('a CRL without nextUpdate is current for 24 h after its thisUpdate, then stale (injected now)', async () => {
    expect(CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS).toBe(24 * 3600_000);
    const thisUpdate = new Date(Math.floor(at(-30).getTime() / 1000) * 1000); // CRL times have whole seconds
    const blobs = { a: await crl(pki.int, { thisUpdate, nextUpdate: null }) };
    expect(new x509.X509Crl(new Uint8Array(blobs.a)).nextUpdate).toBeUndefined();
    const sources = { files: ['a'] };
    const atAge = (ms: number) => new Date(thisUpdate.getTime() + ms);
    // Current up to and including thisUpdate + 24 h.
    for (const ms of [0, 3600_000, CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS]) {
      expect((await checkRevocation(input(chain, blobs, { sources, now: atAge(ms) }))).unavailable).toEqual([]);
    }
    // One millisecond later it no longer is: failClosed refuses, failOpen names it stale.
    const late = atAge(CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS + 1);
    expect(await refusal(checkRevocation(input(chain, blobs, { sources, now: late })))).toBe('revocation_unavailable');
    const r = await checkRevocation(input(chain, blobs, { sources, now: late, onUnavailable: 'failOpen' }));
    expect(r.unavailable.join('\n')).toMatch(/stale \(no nextUpdate/);
    // Years later, still stale (before the fix it counted as current forever).
    expect(await refusal(checkRevocation(input(chain, blobs, { sources, now: at(3650) })))).toBe('revocation_unavailable');
  });

  // @peculiar/x509 2.2 drops revokedCertificates and crlExtensions of a CRL without nextUpdate;
  // the checker reads both from the DER itself.
  it('refuses a leaf listed in a current CRL without nextUpdate', async () => {
    const blobs = { a: await crl(pki.int, { revoked: [pki.root, pki.leaf], thisUpdate: at(-0.1), nextUpdate: null }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })))).toBe('certificate_revoked');
    const err = await checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/was revoked at \d{4}-\d{2}-\d{2}T/);
  });

  it('sees critical CRL extensions with and without nextUpdate', async () => {
    const delta = new x509.Extension('2.5.29.27', true, new Uint8Array([0x02, 0x01, 0x01])); // deltaCRLIndicator
    for (const nextUpdate of [undefined, null]) {
      const blobs = { a: await crl(pki.int, { thisUpdate: at(-0.1), nextUpdate, extensions: [delta, CRL_NUMBER] }) };
      const r = await checkRevocation(input(chain, blobs, { sources: { files: ['a'] }, onUnavailable: 'failOpen' }));
      expect(r.unavailable.join('\n')).toMatch(/critical extensions certgate does not interpret: 2\.5\.29\.27/);
    }
  });

  it('does not use a CRL without a CRL number (RFC 5280 5.2.3): revocation_unavailable, or a warning under failOpen', async () => {
    const blobs = { a: await crl(pki.int, { revoked: [pki.leaf], thisUpdate: at(-0.1), extensions: [] }) };
    expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })))).toBe('revocation_unavailable');
    const r = await checkRevocation(input(chain, blobs, { sources: { files: ['a'] }, onUnavailable: 'failOpen' }));
    expect(r.unavailable.join('\n')).toMatch(/no CRL number/);
  });

  it('honours removeFromCRL entries (reasonCode 8) with and without nextUpdate', async () => {
    for (const nextUpdate of [undefined, null]) {
      const blobs = { a: await crl(pki.int, { revoked: [pki.leaf], reason: 8, thisUpdate: at(-0.1), nextUpdate }) };
      expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] } })))).toBe('ok');
      const keyCompromise = { a: await crl(pki.int, { revoked: [pki.leaf], reason: 1, thisUpdate: at(-0.1), nextUpdate }) };
      expect(await refusal(checkRevocation(input(chain, keyCompromise, { sources: { files: ['a'] } })))).toBe('certificate_revoked');
    }
  });

  it('an old CRL without nextUpdate still refuses the serials it lists, under either policy', async () => {
    const blobs = { a: await crl(pki.int, { revoked: [pki.leaf], thisUpdate: at(-30), nextUpdate: null }) };
    for (const onUnavailable of ['failClosed', 'failOpen'] as const) {
      expect(await refusal(checkRevocation(input(chain, blobs, { sources: { files: ['a'] }, onUnavailable })))).toBe('certificate_revoked');
    }
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
