import { BlockList, isIP } from 'node:net';

/**
 * Canonical form of a peer address: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes plain IPv4
 * so that `10.0.0.0/8` matches it. Returns null for anything that is not an IP literal.
 */
export function normalizeIp(raw: string | undefined | null): string | null {
  if (!raw) return null;
  let ip = raw.trim();
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  return isIP(ip) ? ip.toLowerCase() : null;
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address; throws on anything else. */
function parseCidr(cidr: string): { net: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [addr, len, extra] = cidr.trim().split('/');
  if (extra !== undefined || !addr) throw new Error(`not a CIDR: ${JSON.stringify(cidr)}`);
  const ip = normalizeIp(addr);
  if (!ip) throw new Error(`not a CIDR: ${JSON.stringify(cidr)}`);
  const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new Error(`bad prefix length in CIDR ${JSON.stringify(cidr)}`);
  return { net: ip, prefix, family };
}

/** Throws with a readable reason when `cidr` is not valid; used by the config schema. */
export function assertCidr(cidr: string): void {
  parseCidr(cidr);
}

const MAX_REMEMBERED_ANSWERS = 1024;

/** A set of CIDR ranges that answers `contains(ip)` for IPv4, IPv6 and IPv4-mapped IPv6. */
export class CidrSet {
  private readonly list = new BlockList();
  /**
   * Answers by raw address: callers come from a handful of addresses (often one proxy) and
   * BlockList.check allocates a SocketAddress per call. Bounded: cleared when full.
   */
  private readonly answers = new Map<string, boolean>();
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const { net, prefix, family } = parseCidr(c);
      this.list.addSubnet(net, prefix, family);
    }
    this.size = cidrs.length;
  }

  contains(rawIp: string | undefined | null): boolean {
    if (!rawIp) return false;
    let answer = this.answers.get(rawIp);
    if (answer === undefined) {
      const ip = normalizeIp(rawIp);
      answer = ip !== null && this.list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
      if (this.answers.size >= MAX_REMEMBERED_ANSWERS) this.answers.clear();
      this.answers.set(rawIp, answer);
    }
    return answer;
  }
}

const MAPPED_V4 = 0xffffn << 32n;

/** An IP literal as a 128-bit number; IPv4 (plain or mapped) lands in ::ffff:0:0/96. */
function ipToBigInt(ip: string): bigint {
  if (isIP(ip) === 4) return MAPPED_V4 | ip.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two hex groups.
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (tail) {
    const v4 = tail[1]!.split('.').map(Number);
    text = text.slice(0, -tail[1]!.length) + (((v4[0]! << 8) | v4[1]!).toString(16) + ':' + ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * The first and last address of a CIDR in one 128-bit space where IPv4 is its mapped form, so
 * `10.0.0.0/8`, `::ffff:a00:0/104` and `::ffff:10.1.2.3` are compared as the addresses they are.
 */
export function cidrRange(cidr: string): { first: bigint; last: bigint } {
  const { net, prefix, family } = parseCidr(cidr);
  const bits = family === 'ipv4' ? 32 : 128;
  const hostBits = BigInt(bits - prefix);
  const first = (ipToBigInt(net) >> hostBits) << hostBits;
  return { first, last: first + (1n << hostBits) - 1n };
}

/** True when some address is inside both CIDRs (IPv4, IPv6 and IPv4-mapped IPv6 alike). */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return x.first <= y.last && y.first <= x.last;
}
