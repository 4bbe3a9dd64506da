import { isIP } from 'node:net';

/**
 * IP address <-> octet conversions for iPAddress GeneralNames (SANs: 4 or 16 bytes; name
 * constraints: address followed by mask, 8 or 32 bytes).
 */

/** Network-order bytes of an IPv4/IPv6 literal, or null when it is not one. */
export function ipToBytes(ip: string): Uint8Array | null {
  const kind = isIP(ip);
  if (kind === 4) return Uint8Array.from(ip.split('.').map(Number));
  if (kind !== 6) return null;
  let text = ip.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const b = ipToBytes(quad[1]!)!;
    text = text.slice(0, -quad[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Text form of a 4- or 16-byte address; other lengths are rendered as hex so they never match. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    // Canonical compression of the longest zero run (RFC 5952) so values compare as strings.
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') { i++; continue; }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) { best = i; bestLen = j - i; }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  return `invalid-ip:${Buffer.from(b).toString('hex')}`;
}

/** `10.0.0.0/8` -> address bytes followed by mask bytes, as name constraints encode it. */
export function cidrToConstraintBytes(cidr: string): Uint8Array {
  const [addr, len] = cidr.split('/');
  const ip = addr ? ipToBytes(addr) : null;
  if (!ip) throw new Error(`not a CIDR: ${cidr}`);
  const bits = len === undefined ? ip.length * 8 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > ip.length * 8) throw new Error(`bad prefix in ${cidr}`);
  const mask = new Uint8Array(ip.length);
  for (let i = 0; i < ip.length; i++) mask[i] = 0xff << (8 - Math.min(8, Math.max(0, bits - i * 8))) & 0xff;
  const out = new Uint8Array(ip.length * 2);
  out.set(ip.map((v, i) => v & mask[i]!));
  out.set(mask, ip.length);
  return out;
}

/**
 * The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 2.5.5.2) stands for, as 4
 * bytes; undefined for any other address. Name constraints and the identity policy both read a
 * mapped SAN as this IPv4 address, so `::ffff:10.1.2.3` can neither slip past an excluded
 * 10.0.0.0/8 constraint nor be judged differently by the two.
 */
export function mappedIpv4(b: Uint8Array): Uint8Array | undefined {
  if (b.length !== 16) return undefined;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return undefined;
  return b[10] === 0xff && b[11] === 0xff ? b.subarray(12) : undefined;
}

/** Text form of an IP literal with a mapped IPv4 address written as IPv4; null when it is not an IP literal. */
export function canonicalIp(text: string): string | null {
  const b = ipToBytes(text);
  if (!b) return null;
  return bytesToIp(mappedIpv4(b) ?? b);
}
