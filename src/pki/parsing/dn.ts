import { decodeOid, hasMinimalLength, hex, isStrictOid, latin1, readChildren, readNode, type DerNode } from './der.js';
import { EMAIL_ATTR } from './extension-oids.js';

/**
 * Distinguished-name rendering that reproduces @peculiar/x509 2.2 `Name#toString()` and
 * `Name#getField('CN')` (with asn1js 3 string decoding) byte for byte, for the subset of names whose
 * decoding is unambiguous: every attribute value a primitive string type with well-formed content.
 * Anything else returns undefined and the caller falls back to the reference decoder.
 * One deliberate difference: BMPString and UniversalString are decoded exactly (ucsString), where
 * asn1js truncates UniversalString characters to 16 bits; the reference decoder adopts this
 * decoding for such names, and both refuse strings that are not valid UCS-2 / UCS-4.
 * test/pki/parsing/dn.test.ts compares the two over generated names.
 */

/** Short names @peculiar/x509 prints; every other attribute type is printed as its OID. */
const SHORT_NAMES = new Map<string, string>([
  ['2.5.4.3', 'CN'], ['2.5.4.7', 'L'], ['2.5.4.8', 'ST'], ['2.5.4.10', 'O'], ['2.5.4.11', 'OU'], ['2.5.4.6', 'C'],
  ['0.9.2342.19200300.100.1.25', 'DC'], [EMAIL_ATTR, 'E'], ['2.5.4.42', 'G'], ['2.5.4.43', 'I'],
  ['2.5.4.4', 'SN'], ['2.5.4.12', 'T'],
]);
const CN = '2.5.4.3';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** @peculiar/x509's escape(), verbatim (note: only the first CR/LF/TAB is hex-escaped). */
function escape(data: string): string {
  return data
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/([\r\n\t])/, (_m, char: string) => `\\${Buffer.from(char, 'utf8').toString('hex').toUpperCase()}`);
}

/**
 * The attribute value as asn1js decodes it: a string, or `{ any }` with the whole element for
 * types AttributeValue models as ANY. undefined when outside the supported subset.
 */
function attributeValue(v: DerNode): string | { any: Uint8Array } | undefined {
  const b = v.value;
  switch (v.tag) {
    case 0x13: // PrintableString
    case 0x14: // TeletexString
    case 0x16: // IA5String
      return latin1(b);
    case 0x0c: // UTF8String; asn1js falls back to latin1 on invalid UTF-8, which is left to the reference
      try {
        return utf8.decode(b);
      } catch {
        return undefined;
      }
    case 0x1e: // BMPString
    case 0x1c: // UniversalString
      return ucsString(v.tag, b);
    case 0x12: // NumericString
    case 0x15: // VideotexString
    case 0x19: // GraphicString
    case 0x1a: // VisibleString
    case 0x1b: // GeneralString
      return { any: v.raw };
    default:
      return undefined;
  }
}

/**
 * BMPString (UCS-2 big-endian: 2 octets a character, no surrogates: UCS-2 has none) and
 * UniversalString (UCS-4 big-endian: 4 octets a character, a Unicode scalar value: at most
 * 0x10FFFF and not a surrogate), decoded exactly. undefined when the octets are not such a string:
 * the caller refuses the certificate (see nameStringProblem) rather than read a truncated name —
 * asn1js keeps only the low 16 bits of each UniversalString character, so U+10061 read as "a".
 */
function ucsString(tag: 0x1e | 0x1c, b: Uint8Array): string | undefined {
  const width = tag === 0x1e ? 2 : 4;
  if (b.length % width) return undefined;
  let s = '';
  for (let i = 0; i < b.length; i += width) {
    const cp = width === 2 ? (b[i]! << 8) | b[i + 1]! : ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    s += String.fromCodePoint(cp);
  }
  return s;
}

/**
 * Why a Name's BMPString or UniversalString attribute values do not decode, or undefined when
 * they all do (or it has none). Both certificate decoders refuse such a certificate.
 */
export function nameStringProblem(nameDer: Uint8Array): string | undefined {
  try {
    const { node: name } = readNode(nameDer);
    for (const rdn of readChildren(name.value)) {
      for (const atv of readChildren(rdn.value)) {
        const [, value] = readChildren(atv.value);
        if (value && (value.tag === 0x1e || value.tag === 0x1c) && ucsString(value.tag, value.value) === undefined) {
          return `a ${value.tag === 0x1e ? 'BMPString' : 'UniversalString'} in a name is not valid ${value.tag === 0x1e ? 'UCS-2' : 'UCS-4'}`;
        }
      }
    }
  } catch {
    // The structure itself is judged elsewhere.
  }
  return undefined;
}

/** Whether a Name holds a UniversalString value with a character beyond U+FFFF (asn1js truncates those). */
export function hasAstralUniversalString(nameDer: Uint8Array): boolean {
  try {
    const { node: name } = readNode(nameDer);
    return readChildren(name.value).some((rdn) => readChildren(rdn.value).some((atv) => {
      const [, value] = readChildren(atv.value);
      if (value?.tag !== 0x1c) return false;
      for (let i = 0; i + 1 < value.value.length; i += 4) if (value.value[i] || value.value[i + 1]) return true;
      return false;
    }));
  } catch {
    return false;
  }
}

export interface DecodedName {
  /** @peculiar/x509 Name#toString(). */
  text: string;
  /** Name#getField('CN'). */
  commonNames: string[];
  /** The RDN SETs as raw DER, in order. */
  rdns: Uint8Array[];
  /** emailAddress attribute contents as latin1, in order. */
  emails: string[];
}

/** Decodes an encoded Name (the whole SEQUENCE element); undefined when outside the supported subset. */
export function decodeName(nameDer: Uint8Array): DecodedName | undefined {
  const { node: name, next } = readNode(nameDer);
  if (name.tag !== 0x30 || next !== nameDer.length || !hasMinimalLength(name)) return undefined;
  const rdnTexts: string[] = [];
  const commonNames: string[] = [];
  const rdns: Uint8Array[] = [];
  const emails: string[] = [];
  const content = name.value;
  for (let pos = 0; pos < content.length; ) {
    const { node: rdn, next: afterRdn } = readNode(content, pos);
    pos = afterRdn;
    if (rdn.tag !== 0x31 || rdn.value.length === 0 || !hasMinimalLength(rdn)) return undefined;
    rdns.push(rdn.raw);
    const parts: string[] = [];
    for (let p = 0; p < rdn.value.length; ) {
      const { node: atv, next: afterAtv } = readNode(rdn.value, p);
      p = afterAtv;
      if (atv.tag !== 0x30 || !hasMinimalLength(atv)) return undefined;
      const { node: type, next: afterType } = readNode(atv.value);
      if (type.tag !== 0x06 || !hasMinimalLength(type) || !isStrictOid(type.value) || afterType >= atv.value.length) return undefined;
      const { node: value, next: afterValue } = readNode(atv.value, afterType);
      if (afterValue !== atv.value.length || !hasMinimalLength(value)) return undefined;
      const decoded = attributeValue(value);
      if (decoded === undefined) return undefined;
      const oid = decodeOid(type.value);
      const str = typeof decoded === 'string';
      parts.push(`${SHORT_NAMES.get(oid) ?? oid}=${str ? escape(decoded) : `#${hex(decoded.any)}`}`);
      if (oid === CN) commonNames.push(str ? decoded : hex(decoded.any));
      if (oid === EMAIL_ATTR) emails.push(latin1(value.value));
    }
    rdnTexts.push(parts.join('+'));
  }
  return { text: rdnTexts.join(', '), commonNames, rdns, emails };
}
