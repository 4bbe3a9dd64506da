import { cidrsOverlap } from '../util/cidr.js';

/** Two `trustedProxies` entries whose ranges share an address, by index in the list. */
export interface ProxyOverlap {
  first: number;
  firstCidr: number;
  second: number;
  secondCidr: number;
  message: string;
}

interface Entry {
  cidrs: readonly string[];
  header: string;
  format: string;
}

/**
 * Every pair of entries that trust a common peer. Such a peer could send the certificate header of
 * either entry, and its terminator strips only its own: a client's forged header of the other
 * entry would be read as if that other terminator had verified it. So each peer must belong to
 * exactly one entry. IPv4, IPv6 and IPv4-mapped IPv6 are compared as the same address space.
 * An entry whose CIDRs do not parse is skipped here (the CIDR check reports it).
 */
export function overlappingProxyEntries(entries: readonly Entry[]): ProxyOverlap[] {
  const out: ProxyOverlap[] = [];
  for (let j = 1; j < entries.length; j++) {
    for (let i = 0; i < j; i++) {
      const hit = firstOverlap(entries[i]!.cidrs, entries[j]!.cidrs);
      if (!hit) continue;
      const [a, b] = hit;
      const name = (k: number, c: number) => `trustedProxies[${k}] (${entries[k]!.format}, header ${entries[k]!.header}, cidr ${entries[k]!.cidrs[c]})`;
      out.push({
        first: i,
        firstCidr: a,
        second: j,
        secondCidr: b,
        message: `${name(i, a)} and ${name(j, b)} overlap: every peer must belong to exactly one trusted proxy entry, or a client could send the other entry's certificate header through it`,
      });
      break;
    }
  }
  return out;
}

function firstOverlap(a: readonly string[], b: readonly string[]): [number, number] | null {
  for (let x = 0; x < a.length; x++) {
    for (let y = 0; y < b.length; y++) {
      try {
        if (cidrsOverlap(a[x]!, b[y]!)) return [x, y];
      } catch {
        // not a CIDR: reported by the per-entry check
      }
    }
  }
  return null;
}
