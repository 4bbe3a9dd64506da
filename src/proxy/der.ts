import { MAX_CHAIN_LENGTH } from './types.js';
import { chainTooLong, malformed } from './refusals.js';

/**
 * Just enough ASN.1 to know where a certificate starts and ends; src/pki parses it for real
 * later. We check that a blob is ONE complete DER SEQUENCE whose content is a run
 * of complete TLVs (catches truncation and trailing garbage early, with a 400 instead of a
 * confusing parse error downstream), and split HAProxy's concatenated chain by the outer lengths.
 */

const SEQUENCE = 0x30;

interface Tlv {
  header: number;
  length: number;
}

/** Header and content length of the TLV at `offset`; throws when it does not fit before `end`. */
function readTlv(bytes: Uint8Array, offset: number, end: number, what: string): Tlv {
  if (end - offset < 2) throw malformed(what, 'truncated DER element');
  // High-tag-number form never appears at the two levels of a certificate we look at.
  if ((bytes[offset]! & 0x1f) === 0x1f) throw malformed(what, 'unsupported DER tag');
  const first = bytes[offset + 1]!;
  if (!(first & 0x80)) {
    if (first > end - offset - 2) throw malformed(what, 'truncated DER element');
    return { header: 2, length: first };
  }
  const n = first & 0x7f;
  // 0x80 is BER's indefinite length, which DER forbids; 4 length bytes already mean 4 GiB.
  if (n === 0 || n > 4) throw malformed(what, 'invalid DER length');
  if (end - offset < 2 + n) throw malformed(what, 'truncated DER length');
  // DER demands the shortest length form; anything else is not what a CA signed.
  if (bytes[offset + 2] === 0) throw malformed(what, 'non-minimal DER length');
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + bytes[offset + 2 + i]!;
  if (length < 0x80) throw malformed(what, 'non-minimal DER length');
  if (length > end - offset - 2 - n) throw malformed(what, 'truncated DER element');
  return { header: 2 + n, length };
}

/** Total length of the SEQUENCE at `offset`, after checking its content is complete TLVs. */
function sequenceLength(bytes: Uint8Array, offset: number, what: string): number {
  if (bytes[offset] !== SEQUENCE) throw malformed(what, 'not a DER SEQUENCE');
  const { header, length } = readTlv(bytes, offset, bytes.length, what);
  if (length === 0) throw malformed(what, 'empty DER SEQUENCE');
  const end = offset + header + length;
  let p = offset + header;
  while (p < end) {
    const inner = readTlv(bytes, p, end, what);
    p += inner.header + inner.length;
  }
  return header + length;
}

/** Throws unless `der` is exactly one complete SEQUENCE; returns it for chaining. */
export function assertOneDerSequence(der: Uint8Array, what: string): Uint8Array {
  if (der.length === 0) throw malformed(what, 'empty certificate');
  if (sequenceLength(der, 0, what) !== der.length) throw malformed(what, 'trailing bytes after the DER SEQUENCE');
  return der;
}

/**
 * Splits concatenated DER certificates (HAProxy's `ssl_c_chain_der`). Each piece is a fresh
 * copy, so no piece keeps the whole header's buffer alive.
 * Refuses as soon as more than `max` pieces are seen: 32 KiB of 4-byte SEQUENCEs would
 * otherwise make thousands of arrays before the chain cap gets a say.
 */
export function splitDerSequences(bytes: Uint8Array, what: string, max = MAX_CHAIN_LENGTH): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (out.length === max) throw chainTooLong(what, max);
    const len = sequenceLength(bytes, p, what);
    out.push(new Uint8Array(bytes.subarray(p, p + len)));
    p += len;
  }
  return out;
}
