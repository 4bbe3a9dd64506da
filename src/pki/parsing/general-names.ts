import { bytesToIp } from './ip.js';
import { readChildren, readNode } from './der.js';

/**
 * GeneralName (RFC 5280 4.2.1.6) decoding shared by SANs and name constraints. Parsed by hand
 * because @peculiar/x509 throws on name forms it does not model and has no NameConstraints type.
 */
export type GeneralNameValue =
  | { type: 'dns' | 'email' | 'uri'; value: string }
  | { type: 'ip'; bytes: Uint8Array }
  /** directoryName: the encoded RDNs of the Name, in order. */
  | { type: 'dirName'; rdns: Uint8Array[] }
  /** otherName, x400Address, ediPartyName, registeredID: carried but not interpreted. */
  | { type: 'other'; tag: number };

// IA5String is ASCII; latin1 keeps any stray high byte visible instead of inventing U+FFFD.
const ia5 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** The RDN SETs of an encoded Name, as raw DER, for prefix comparison. */
export function nameRdns(nameDer: Uint8Array): Uint8Array[] {
  const { node } = readNode(nameDer);
  if (node.tag !== 0x30) throw new Error('Name is not a SEQUENCE');
  return readChildren(node.value).map((rdn) => {
    if (rdn.tag !== 0x31) throw new Error('RDN is not a SET');
    return rdn.raw;
  });
}

function decodeGeneralName(n: { tag: number; value: Uint8Array }): GeneralNameValue {
  switch (n.tag) {
    case 0x81: return { type: 'email', value: ia5(n.value) };
    case 0x82: return { type: 'dns', value: ia5(n.value) };
    case 0x86: return { type: 'uri', value: ia5(n.value) };
    case 0x87: return { type: 'ip', bytes: n.value };
    // [4] is EXPLICIT (Name is a CHOICE), so the content is the Name itself.
    case 0xa4: return { type: 'dirName', rdns: nameRdns(n.value) };
    default: return { type: 'other', tag: n.tag };
  }
}

/** GeneralNames ::= SEQUENCE OF GeneralName (the SAN extension value). */
export function parseGeneralNames(extValue: Uint8Array): GeneralNameValue[] {
  const { node, next } = readNode(extValue);
  if (node.tag !== 0x30 || next !== extValue.length) throw new Error('GeneralNames is not a single SEQUENCE');
  return readChildren(node.value).map(decodeGeneralName);
}

export interface NameConstraints {
  permitted: GeneralNameValue[];
  excluded: GeneralNameValue[];
  /** Set when the extension cannot be honoured; validation then refuses every path through the CA. */
  error?: string;
}

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0], excludedSubtrees [1] } (RFC 5280 4.2.1.10). */
export function parseNameConstraints(extValue: Uint8Array): NameConstraints {
  const out: NameConstraints = { permitted: [], excluded: [] };
  try {
    const { node, next } = readNode(extValue);
    if (node.tag !== 0x30 || next !== extValue.length) throw new Error('not a single SEQUENCE');
    const parts = readChildren(node.value);
    // RFC 5280 4.2.1.10: at least one of the two MUST be present, and a present one is SIZE (1..MAX).
    if (parts.length === 0) throw new Error('empty NameConstraints (neither permitted nor excluded subtrees)');
    for (const part of parts) {
      if (part.tag !== 0xa0 && part.tag !== 0xa1) throw new Error(`unexpected element tag ${part.tag}`);
      const list = part.tag === 0xa0 ? out.permitted : out.excluded;
      const subtrees = readChildren(part.value);
      if (subtrees.length === 0) throw new Error(`empty ${part.tag === 0xa0 ? 'permitted' : 'excluded'} subtrees`);
      for (const subtree of subtrees) {
        if (subtree.tag !== 0x30) throw new Error('GeneralSubtree is not a SEQUENCE');
        const [base, ...rest] = readChildren(subtree.value);
        if (!base) throw new Error('empty GeneralSubtree');
        // minimum must be absent (0) and maximum absent: RFC 5280 says they MUST NOT be used.
        if (rest.length) throw new Error('minimum/maximum in GeneralSubtree are not supported');
        const name = decodeGeneralName(base);
        const bad = constraintProblem(name);
        if (bad) throw new Error(bad);
        list.push(name);
      }
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

/** Why a constraint cannot be applied, or undefined when it is well-formed. */
function constraintProblem(c: GeneralNameValue): string | undefined {
  switch (c.type) {
    case 'email': {
      const v = c.value;
      if (v.includes('@')) return parseMailbox(v) ? undefined : `malformed email constraint ${JSON.stringify(v)}`;
      const host = v.startsWith('.') ? v.slice(1) : v;
      return isHostname(host) ? undefined : `malformed email domain constraint ${JSON.stringify(v)}`;
    }
    case 'dns':
      // A dNSName constraint is a host name ("example.com" covers it and its subdomains); the
      // leading-period form belongs to URI and email constraints only (RFC 5280 4.2.1.10).
      return c.value === '' || isHostname(c.value) ? undefined : `malformed DNS constraint ${JSON.stringify(c.value)}`;
    case 'uri':
      return isHostname(c.value.replace(/^\./, '')) ? undefined : `malformed URI constraint ${JSON.stringify(c.value)}`;
    case 'ip': {
      const half = c.bytes.length / 2;
      if (half !== 4 && half !== 16) return `IP constraint of ${c.bytes.length} bytes`;
      const mask = c.bytes.subarray(half);
      // The mask must be a prefix: ones, then zeros.
      const bits = Array.from(mask, (b) => b.toString(2).padStart(8, '0')).join('');
      return /^1*0*$/.test(bits) ? undefined : `non-contiguous IP constraint mask ${bytesToIp(mask)}`;
    }
    case 'dirName':
      return undefined;
    case 'other':
      // Kept: a name of this form anywhere below fails closed (name-constraints.ts); without one it binds nothing.
      return undefined;
  }
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/i;
export const isHostname = (h: string): boolean => h.length > 0 && h.length <= 253 && h.split('.').every((l) => LABEL.test(l));

// RFC 5321 Local-part: Dot-string of atext atoms, or a Quoted-string.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;
const QUOTED = /^"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;

/** Splits an RFC 5321 mailbox; null when it is not one (e.g. `a@b@example.com`). */
export function parseMailbox(v: string): { local: string; domain: string } | null {
  const at = v.lastIndexOf('@');
  if (at <= 0) return null;
  const local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (!(DOT_ATOM.test(local) || QUOTED.test(local)) || !isHostname(domain)) return null;
  return { local, domain };
}
