import { canonicalIp } from '../pki/parsing/ip.js';
import { CidrSet, normalizeIp } from '../util/cidr.js';
import { compileSpiffePattern, hasDotSegment } from './spiffe.js';

export interface TypedName {
  type: 'dns' | 'uri' | 'email' | 'ip';
  value: string;
}

const escapeRe = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');

/** `*` any run, `?` one character, everything else literal; anchored. */
export function globToRegExp(glob: string, flags = ''): RegExp {
  let re = '';
  for (const ch of glob) re += ch === '*' ? '[\\s\\S]*' : ch === '?' ? '[\\s\\S]' : escapeRe(ch);
  return new RegExp(`^${re}$`, flags);
}

/**
 * DNS patterns: case-insensitive, and `*` stands for exactly one whole label, so
 * `*.ci.example.com` matches `a.ci.example.com` but neither `ci.example.com` nor `a.b.ci.example.com`.
 */
function dnsPattern(glob: string): RegExp {
  const labels = glob.split('.').map((l) => (l === '*' ? '[a-z0-9_-]+' : escapeRe(l).replace(/\*/g, '[a-z0-9_-]*').replace(/\?/g, '[a-z0-9_-]')));
  return new RegExp(`^${labels.join('\\.')}$`, 'i');
}

/** Email: the local part by glob with exact case, the domain case-insensitively. */
function emailMatcher(glob: string): (v: string) => boolean {
  const at = glob.lastIndexOf('@');
  const local = globToRegExp(at >= 0 ? glob.slice(0, at) : glob);
  const domain = at >= 0 ? globToRegExp(glob.slice(at + 1).toLowerCase()) : null;
  return (v) => {
    const i = v.lastIndexOf('@');
    if (domain === null) return local.test(v);
    return i >= 0 && local.test(v.slice(0, i)) && domain.test(v.slice(i + 1).toLowerCase());
  };
}

export type NameMatcher = ((name: TypedName) => boolean) & {
  /** SPIFFE patterns: the certificate must be an X509-SVID, i.e. carry exactly one URI SAN. */
  readonly svidOnly?: boolean;
};

/** Compiles `DNS:…`, `URI:…`, `SPIFFE:…`, `EMAIL:…` or `IP:cidr` into a matcher for typed SANs. */
export function compileSanPattern(pattern: string): NameMatcher {
  const colon = pattern.indexOf(':');
  const kind = pattern.slice(0, colon);
  const body = pattern.slice(colon + 1);
  switch (kind) {
    case 'DNS': {
      const re = dnsPattern(body);
      return (n) => n.type === 'dns' && re.test(n.value);
    }
    case 'URI': {
      const re = globToRegExp(body);
      // A wildcard never matches across or into a dot segment: `spiffe://corp/ns/ci/../../prod/x`
      // is not under `spiffe://corp/ns/ci/*`. Such a URI matches only a pattern that spells it.
      const wild = /[*?]/.test(body);
      return (n) => n.type === 'uri' && re.test(n.value) && !(wild && hasDotSegment(n.value));
    }
    case 'SPIFFE': {
      const m = compileSpiffePattern(body);
      return Object.assign((n: TypedName) => n.type === 'uri' && m(n.value), { svidOnly: true });
    }
    case 'EMAIL': {
      const m = emailMatcher(body);
      return (n) => n.type === 'email' && m(n.value);
    }
    case 'IP': {
      const set = new CidrSet([body]);
      // A mapped IPv4 SAN (::ffff:10.1.2.3) is matched as the IPv4 address, as name constraints read it.
      return (n) => {
        if (n.type !== 'ip') return false;
        const ip = canonicalIp(n.value);
        return ip !== null && normalizeIp(ip) !== null && set.contains(ip);
      };
    }
    default:
      throw new Error(`unknown SAN type in ${JSON.stringify(pattern)}`);
  }
}
