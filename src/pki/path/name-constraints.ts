import type { ParsedCert } from '../parsing/certificate.js';
import { bytesEqual } from '../parsing/der.js';
import { bytesToIp, mappedIpv4 } from '../parsing/ip.js';
import { isHostname, parseMailbox, type GeneralNameValue } from '../parsing/general-names.js';

/**
 * RFC 5280 4.2.1.10 name constraints of one CA applied to one certificate below it.
 * Returns a reason when the certificate violates them, undefined when it complies.
 * Each CA is checked on its own, which yields the RFC's intersection of permitted subtrees.
 * CN is not treated as a DNS name (RFC 5280); the name policy of an identity reads it separately.
 */
/**
 * Comparisons (names × constraints) one CA's constraints may cost against one certificate: Go's
 * crypto/x509 default bound (VerifyOptions.MaxConstraintComparisions = 250 000). Quadratic chains
 * like x509-limbo's nc-dos cases are refused instead of evaluated.
 */
export const MAX_NAME_CONSTRAINT_COMPARISONS = 250_000;
export const TOO_COMPLEX = 'the name constraints are too complex to check against this certificate';

export function nameConstraintViolation(ca: ParsedCert, cert: ParsedCert): string | undefined {
  const nc = ca.nameConstraints;
  if (!nc) return undefined;
  if (nc.error) return `name constraints of "${ca.subject}" cannot be applied: ${nc.error}`;
  const names: GeneralNameValue[] = [...cert.allSubjectAltNames, ...cert.subjectEmails.map((value) => ({ type: 'email' as const, value }))];
  if (cert.subjectRdns.length) names.push({ type: 'dirName', rdns: cert.subjectRdns });
  const constraints = nc.permitted.length + nc.excluded.length;
  if (names.length * constraints > MAX_NAME_CONSTRAINT_COMPARISONS) {
    return TOO_COMPLEX;
  }
  for (const name of names) {
    const label = describe(name);
    // A constraint on a name form certgate cannot read (otherName, x400Address …) fails closed when
    // a name of that form is present: it could be the one the constraint forbids.
    if (name.type === 'other' && [...nc.permitted, ...nc.excluded].some((c) => c.type === 'other' && c.tag === name.tag)) {
      return `${label} of a form certgate cannot check against the name constraints of "${ca.subject}"`;
    }
    const permitted = nc.permitted.filter((c) => c.type === name.type);
    if (permitted.length && !permitted.some((c) => matches(name, c, false))) return `${label} is outside the names permitted by "${ca.subject}"`;
    if (nc.excluded.some((c) => c.type === name.type && matches(name, c, true))) return `${label} is excluded by "${ca.subject}"`;
  }
  return undefined;
}

function describe(n: GeneralNameValue): string {
  if (n.type === 'dirName') return 'the subject/directory name';
  if (n.type === 'ip') return `IP SAN ${bytesToIp(n.bytes)}`;
  if (n.type === 'other') return 'a SAN';
  return `${n.type} name ${JSON.stringify(n.value)}`;
}

/**
 * Whether `name` falls in the subtree `c`. A name that cannot be parsed falls in no permitted
 * subtree and in every excluded one: unreadable names must never slip through a constraint.
 */
function matches(name: GeneralNameValue, c: GeneralNameValue, excluded: boolean): boolean {
  if (name.type === 'dns' && c.type === 'dns') return dnsMatches(name.value, c.value, excluded);
  if (name.type === 'email' && c.type === 'email') {
    const box = parseMailbox(name.value);
    return box ? emailMatches(box, c.value) : excluded;
  }
  if (name.type === 'uri' && c.type === 'uri') {
    const host = uriHost(name.value);
    return host === null ? excluded : subtreeHost(host, c.value.toLowerCase());
  }
  if (name.type === 'ip' && c.type === 'ip') {
    // A mapped IPv4 SAN is read in both forms: inside a subtree if either form is (see mappedIpv4).
    const v4 = mappedIpv4(name.bytes);
    return ipInSubtree(name.bytes, c.bytes) || (v4 !== undefined && ipInSubtree(v4, c.bytes));
  }
  if (name.type === 'dirName' && c.type === 'dirName') {
    return c.rdns.length <= name.rdns.length && c.rdns.every((rdn, i) => bytesEqual(rdn, name.rdns[i]!));
  }
  return false;
}

/** Whether the address falls in an address + mask subtree of the same family. */
function ipInSubtree(ip: Uint8Array, subtree: Uint8Array): boolean {
  const half = subtree.length / 2;
  if (ip.length !== half) return false;
  return ip.every((b, i) => (b & subtree[half + i]!) === (subtree[i]! & subtree[half + i]!));
}

/** `example.com` covers itself and its subdomains; `.example.com` only subdomains; '' everything. */
function dnsMatches(rawName: string, rawC: string, excluded: boolean): boolean {
  const name = rawName.toLowerCase().replace(/\.$/, '');
  const c = rawC.toLowerCase();
  const wildcard = name.startsWith('*.');
  if (!isHostname(wildcard ? name.slice(2) : name)) return excluded;
  if (c === '') return true;
  if (c.startsWith('.') ? name.endsWith(c) : name === c || name.endsWith(`.${c}`)) return true;
  // `*.example.com` also stands for `bad.example.com`, so an exclusion of the latter must bite.
  const base = c.replace(/^\./, '');
  return excluded && wildcard && base.slice(base.indexOf('.') + 1) === name.slice(2);
}

/** Host constraint for email domains and URI hosts: exact host, or `.domain` for subdomains. */
function subtreeHost(host: string, c: string): boolean {
  return c.startsWith('.') ? host.endsWith(c) : host === c;
}

function emailMatches(box: { local: string; domain: string }, c: string): boolean {
  const domain = box.domain.toLowerCase();
  if (c.includes('@')) {
    // A mailbox constraint: every character literal (`*` is not a wildcard), local part case-sensitive.
    const want = parseMailbox(c);
    return want !== null && want.local === box.local && want.domain.toLowerCase() === domain;
  }
  return subtreeHost(domain, c.toLowerCase());
}

/** The host of a URI SAN, or null when it has none or it is an IP literal (not a domain name). */
function uriHost(uri: string): string | null {
  let host: string;
  try {
    host = new URL(uri).hostname.toLowerCase();
  } catch {
    return null;
  }
  return isHostname(host) && !/^[\d.]+$/.test(host) ? host : null;
}
