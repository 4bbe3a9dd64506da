/**
 * Just enough DER to read and write GeneralNames and Name RDNs, which @peculiar/x509 either
 * does not model (name constraints) or normalises away (exact RDN bytes, unusual name forms).
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
  a.length === b.length && a.every((v, i) => v === b[i]);
