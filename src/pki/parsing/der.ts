import { hash } from 'node:crypto';

/**
 * A small DER reader and writer, plus the byte helpers src/pki shares. It reads whole
 * certificates (the fast decoder of certificate.ts), names and GeneralNames (which
 * @peculiar/x509 does not model or normalises away), CRLs (revocation.ts) and OCSP requests and
 * answers (ocsp.ts).
 */

export interface DerNode {
  /** Full identifier octet (class + constructed bit + tag number; tag numbers < 31 only). */
  tag: number;
  /** Content octets. */
  value: Uint8Array;
  /** The whole element: identifier, length and content. */
  raw: Uint8Array;
}

/** Reads one element at `offset`; throws on truncated or non-minimal lengths. */
export function readNode(buf: Uint8Array, offset = 0): { node: DerNode; next: number } {
  const tag = buf[offset];
  if (tag === undefined || (tag & 0x1f) === 0x1f) throw new Error('DER: bad identifier');
  let pos = offset + 1;
  const first = buf[pos++];
  if (first === undefined) throw new Error('DER: truncated length');
  let len = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: unsupported length form');
    len = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('DER: truncated length');
      len = len * 256 + b;
    }
    if (len < 0x80) throw new Error('DER: non-minimal length');
  }
  const end = pos + len;
  if (end > buf.length) throw new Error('DER: truncated value');
  return { node: { tag, value: buf.subarray(pos, end), raw: buf.subarray(offset, end) }, next: end };
}

/** The children of a constructed element's content. */
export function readChildren(content: Uint8Array): DerNode[] {
  const out: DerNode[] = [];
  for (let pos = 0; pos < content.length; ) {
    const { node, next } = readNode(content, pos);
    out.push(node);
    pos = next;
  }
  return out;
}

/** Encodes one element. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const len = content.reduce((n, c) => n + c.length, 0);
  const lenBytes: number[] = [];
  if (len < 0x80) lenBytes.push(len);
  else {
    for (let l = len; l > 0; l = Math.floor(l / 256)) lenBytes.unshift(l & 0xff);
    lenBytes.unshift(0x80 | lenBytes.length);
  }
  const out = new Uint8Array(1 + lenBytes.length + len);
  out[0] = tag;
  out.set(lenBytes, 1);
  let pos = 1 + lenBytes.length;
  for (const c of content) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.compare(a, b) === 0;

/** Dotted text of an OBJECT IDENTIFIER's content octets. */
export function decodeOid(content: Uint8Array): string {
  const parts: number[] = [];
  let acc = 0;
  for (const b of content) {
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(acc < 80 ? Math.floor(acc / 40) : 2, acc < 80 ? acc % 40 : acc - 80);
      else parts.push(acc);
      acc = 0;
    }
  }
  return parts.join('.');
}

/**
 * True when the content octets are a DER OBJECT IDENTIFIER every decoder reads the same way:
 * non-empty, no arc with a leading 0x80 octet, the last arc terminated, every arc below 2^42.
 */
export function isStrictOid(content: Uint8Array): boolean {
  const n = content.length;
  if (n === 0 || content[n - 1]! & 0x80) return false;
  let arcLen = 0;
  for (let i = 0; i < n; i++) {
    const b = content[i]!;
    if (arcLen === 0 && b === 0x80) return false;
    arcLen = b & 0x80 ? arcLen + 1 : 0;
    if (arcLen >= 6) return false;
  }
  return true;
}

/** True when the element's length octets are the shortest form (DER), not just a valid BER form. */
export function hasMinimalLength(node: DerNode): boolean {
  const len = node.value.length;
  const header = node.raw.length - len;
  return header === (len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6);
}

/** Lowercase hex SHA-256 of the bytes (a certificate's identity in caches, pools and pins). */
export const sha256Hex = (bytes: Uint8Array): string => hash('sha256', bytes, 'hex');

/** The bytes as latin1 text (one character per octet), without copying them. */
export const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

/** The bytes as lowercase hex, without copying them. */
export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/**
 * A serial number INTEGER's content octets as lowercase hex without leading zero octets (one
 * octet is always kept): the form of ParsedCert.serial and of CRL entries, compared as text.
 */
export function serialHex(content: Uint8Array): string {
  let s = 0;
  while (s < content.length - 1 && content[s] === 0) s++;
  return hex(content.subarray(s));
}

/** Octets of a serial number INTEGER's value: content octets without leading zero octets (0 for zero). */
export function serialOctets(content: Uint8Array): number {
  let s = 0;
  while (s < content.length && content[s] === 0) s++;
  return content.length - s;
}
