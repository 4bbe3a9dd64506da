import { describe, expect, it } from 'vitest';
import { generateKeys, mintCertificate } from '../../../src/pki/mint.js';
import {
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_ENTRIES,
  MAX_CERT_DER_BYTES,
  ParsedCertCache,
  estimatedEntryBytes,
} from '../../../src/pki/parsing/parse-cache.js';

/** `n` distinct self-signed certificates (one key, distinct serials and names) of about `sans` × 60 bytes more than a bare one. */
async function distinctCerts(n: number, sans = 0): Promise<Uint8Array[]> {
  const keys = await generateKeys('ec-p256');
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const subject = `CN=refused-${i}`;
    const san = Array.from({ length: sans }, (_, j) => ({ type: 'dns' as const, value: `h${j}-${'x'.repeat(44)}.example.com` }));
    out.push((await mintCertificate({ subject, keys, signWith: keys.privateKey, issuerName: subject, serial: (0x1000 + i).toString(16), san })).der);
  }
  return out;
}

describe('ParsedCertCache bounds', () => {
  it('defaults to 10,000 entries and a 32 MiB estimated budget', () => {
    const cache = new ParsedCertCache();
    expect([cache.maxEntries, cache.maxBytes]).toEqual([DEFAULT_CACHE_MAX_ENTRIES, DEFAULT_CACHE_MAX_BYTES]);
    expect(DEFAULT_CACHE_MAX_BYTES).toBe(32 * 1024 * 1024);
  });

  it('refuses DER over 16 KiB before parsing it, and caches nothing for it', () => {
    const cache = new ParsedCertCache();
    // Not a certificate at all: a size refusal proves parsing never started.
    expect(() => cache.parse(new Uint8Array(MAX_CERT_DER_BYTES + 1))).toThrow(expect.objectContaining({ code: 'certificate_too_large', status: 400 }));
    // At the limit it is parsed (and refused as malformed, which is not cached either).
    expect(() => cache.parse(new Uint8Array(MAX_CERT_DER_BYTES))).toThrow(expect.objectContaining({ code: 'malformed_certificate', status: 400 }));
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
  });

  it('accepts a real certificate just under the limit', async () => {
    const [big] = await distinctCerts(1, 250);
    expect(big!.length).toBeGreaterThan(14 * 1024);
    expect(big!.length).toBeLessThanOrEqual(MAX_CERT_DER_BYTES);
    const cache = new ParsedCertCache();
    expect(cache.parse(big!).subject).toBe('CN=refused-0');
    expect(cache.bytes).toBe(estimatedEntryBytes(big!.length));
  });

  it('never holds more than maxBytes of estimated memory, however many distinct certificates arrive', async () => {
    const ders = await distinctCerts(60, 20);
    const per = estimatedEntryBytes(ders[0]!.length);
    const cache = new ParsedCertCache({ maxBytes: 10 * per + per / 2 });
    for (const der of ders) {
      cache.parse(der);
      expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
    }
    // Every certificate has about the same size: ten fit, the eleventh would not.
    expect(cache.size).toBe(10);
    expect(cache.bytes).toBe(ders.slice(-10).reduce((s, d) => s + estimatedEntryBytes(d.length), 0));
  });

  it('still honours the entry cap when the byte budget is not reached', async () => {
    const ders = await distinctCerts(12);
    const cache = new ParsedCertCache({ maxEntries: 5 });
    for (const der of ders) cache.parse(der);
    expect(cache.size).toBe(5);
    expect(cache.bytes).toBe(ders.slice(-5).reduce((s, d) => s + estimatedEntryBytes(d.length), 0));
  });

  it('evicts the least recently used entry: a certificate in use survives a flood of one-off ones', async () => {
    const [hot, ...flood] = await distinctCerts(40);
    const per = estimatedEntryBytes(hot!.length);
    const cache = new ParsedCertCache({ maxBytes: 4 * per });
    const first = cache.parse(hot!);
    for (const der of flood) {
      cache.parse(der);
      expect(cache.parse(hot!)).toBe(first); // a hit: the same parsed object, moved to the back
    }
    expect(cache.size).toBeLessThanOrEqual(4);
    expect(cache.bytes).toBeLessThanOrEqual(4 * per);
  });

  it('with the default budget, 16 KiB certificates are bounded by bytes long before the entry cap', () => {
    // 32 MiB / estimate(16 KiB) entries of maximum size: a few hundred, about 33 MB in the estimate.
    const maxSized = Math.floor(DEFAULT_CACHE_MAX_BYTES / estimatedEntryBytes(MAX_CERT_DER_BYTES));
    expect(maxSized).toBeLessThan(DEFAULT_CACHE_MAX_ENTRIES);
    expect(maxSized * estimatedEntryBytes(MAX_CERT_DER_BYTES)).toBeLessThanOrEqual(DEFAULT_CACHE_MAX_BYTES);
  });
});
