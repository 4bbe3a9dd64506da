import { badRequest } from '../../errors.js';
import { parseCertificate, type ParsedCert } from './certificate.js';
import { sha256Hex } from './der.js';

/**
 * Largest DER a presented certificate may have. Real client leaves are 0.5–2 KB (RSA-4096 about
 * 2 KB), intermediates rarely more than 4 KB; the fast decoder's subset stops at the same 16 KiB.
 * A 30 KB self-signed certificate costs ~220 KB of memory once parsed, so anything bigger is
 * refused before it is hashed or parsed: 400 `certificate_too_large` (the forwarded header as a
 * whole is capped separately, 431 `certificate_header_too_large`, see src/proxy/types.ts).
 */
export const MAX_CERT_DER_BYTES = 16 * 1024;

/**
 * Estimated memory one cached ParsedCert holds: a fixed part (the JS objects) plus a multiple of
 * the DER (the DER itself, subjectDer, issuerDer, names, SAN strings …). Measured as RSS growth per
 * retained certificate on Node 20 (1,500 distinct certificates each) while each entry still held
 * node:crypto's X509Certificate with its OpenSSL copy: EC leaf 0.4 KB → ~9.6 KB, RSA-2048 leaf
 * 0.8 KB → ~6.2 KB, 1.6 KB → ~17 KB, 6.6 KB → ~40 KB, 16 KB → ~72 KB with the fast decoder and
 * ~93 KB with the reference decoder it falls back to. 8 KiB + 6 × DER lies above every one of
 * these. The fast decoder no longer keeps that object (~5–7 KB an entry less, measured the same way
 * in the fifth session; the V8 heap an EC leaf's entry holds is ~3.2 KB): the estimate was kept,
 * so the same byte budget now costs less memory.
 */
const CACHE_ENTRY_FIXED_BYTES = 8 * 1024;
const CACHE_ENTRY_BYTES_PER_DER_BYTE = 6;
export const estimatedEntryBytes = (derLength: number): number =>
  CACHE_ENTRY_FIXED_BYTES + CACHE_ENTRY_BYTES_PER_DER_BYTE * derLength;

/** Defaults: at most 10,000 certificates and ~32 MiB of estimated memory, whichever binds first. */
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** Throws 400 `certificate_too_large` for a DER over MAX_CERT_DER_BYTES (checked before any parsing). */
export function assertCertificateSize(der: Uint8Array): void {
  if (der.length > MAX_CERT_DER_BYTES) {
    throw badRequest('certificate_too_large', `a certificate of ${der.length} bytes was presented; at most ${MAX_CERT_DER_BYTES} are accepted`);
  }
}

interface Entry {
  cert: ParsedCert;
  bytes: number;
}

/**
 * Decoding a certificate costs about 0.2 ms (mostly OpenSSL loading its public key); hashing it
 * costs a few microseconds. Workloads log in with the same certificate again and again and every login carries
 * the same intermediates, so parsed certificates are kept by the SHA-256 of their exact DER.
 * ParsedCert is never mutated after parsing, which makes sharing safe.
 *
 * Certificates are cached before anyone knows whether they will be accepted, so whatever callers
 * send must not grow the process: the cache is an LRU bounded both by entry count and by the
 * estimated bytes of its entries (estimatedEntryBytes), and refuses oversized DER outright.
 */
export class ParsedCertCache {
  /** Insertion order = recency (a hit is re-inserted), so the first key is the least recently used. */
  private readonly map = new Map<string, Entry>();
  /**
   * Certificates by the blob they were parsed from: only as long as someone else keeps the blob (a
   * WeakMap), i.e. while the header's decode is remembered, so it adds no bound of its own.
   */
  private readonly byBlob = new WeakMap<Uint8Array, ParsedCert>();
  private totalBytes = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(opts: { maxEntries?: number; maxBytes?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  }

  /** Number of certificates held. */
  get size(): number {
    return this.map.size;
  }

  /** Sum of estimatedEntryBytes over the certificates held; never above maxBytes. */
  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * Throws 400 `certificate_too_large` or `malformed_certificate`; neither is cached. `admit`
   * decides, by SHA-256, whether a certificate not held yet is kept (default: always).
   */
  parse(der: Uint8Array, admit?: (sha256: string) => boolean): ParsedCert {
    assertCertificateSize(der);
    // The very same blob again (a header decoded once and remembered, see src/proxy/trusted.ts):
    // no hash needed. Blobs are never written to after decoding.
    const same = this.byBlob.get(der);
    if (same) return same;
    const key = sha256Hex(der);
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
      this.byBlob.set(der, hit.cert);
      return hit.cert;
    }
    const cert = parseCertificate(der, key);
    const bytes = estimatedEntryBytes(der.length);
    // An entry that alone exceeds the budget (only with a tiny maxBytes) is returned, not kept.
    if (bytes > this.maxBytes || (admit && !admit(key))) return cert;
    this.map.set(key, { cert, bytes });
    this.byBlob.set(der, cert);
    this.totalBytes += bytes;
    while (this.map.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      const [oldest, entry] = this.map.entries().next().value as [string, Entry];
      this.map.delete(oldest);
      this.totalBytes -= entry.bytes;
    }
    return cert;
  }
}
