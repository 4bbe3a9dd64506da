import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emailAttributes } from '../../../src/pki/parsing/certificate-reference.js';
import { tlv } from '../../../src/pki/parsing/der.js';
import { decodeName, nameStringProblem } from '../../../src/pki/parsing/dn.js';
import { nameRdns } from '../../../src/pki/parsing/general-names.js';
import { oidBytes } from './equivalence.js';

/**
 * dn.ts renders subject / issuer strings itself. It must give exactly what @peculiar/x509's
 * Name#toString() and Name#getField('CN') give (the values ParsedCert always carried), and must
 * decline (undefined) rather than guess wherever it is not sure.
 */


/** `astral`: a UniversalString beyond U+FFFF, which dn.ts reads exactly and asn1js truncates. */
interface Attr { oid: string; tag: number; value: Uint8Array; supported: boolean; astral?: boolean }
const encodeName = (rdns: Attr[][]): Uint8Array<ArrayBuffer> =>
  tlv(0x30, ...rdns.map((rdn) => tlv(0x31, ...rdn.map((a) => tlv(0x30, tlv(0x06, oidBytes(a.oid)), tlv(a.tag, a.value))))));

function reference(der: Uint8Array) {
  const n = new x509.Name(new Uint8Array(der));
  return { text: n.toString(), commonNames: n.getField('CN') };
}

function expectSame(der: Uint8Array, mustDecode: boolean, comparable = true) {
  const mine = decodeName(der);
  if (mustDecode) expect(mine).toBeDefined();
  if (!mine || !comparable) return;
  // Whatever dn.ts decodes, @peculiar/x509 decodes to the same strings.
  expect({ text: mine.text, commonNames: mine.commonNames }).toStrictEqual(reference(der));
  expect(mine.rdns).toStrictEqual(nameRdns(der));
  expect(mine.emails).toStrictEqual(emailAttributes(nameRdns(der)));
}

const OIDS = [
  '2.5.4.3', '2.5.4.7', '2.5.4.8', '2.5.4.10', '2.5.4.11', '2.5.4.6', '0.9.2342.19200300.100.1.25', '1.2.840.113549.1.9.1',
  '2.5.4.42', '2.5.4.43', '2.5.4.4', '2.5.4.12', '2.5.4.5', '2.5.4.97', '0.9.2342.19200300.100.1.1', '1.2.3.4.5.6.7.8', '2.999.1', '1.3.6.1.4.1.311.60.2.1.3',
];
// The characters escaping cares about, controls, Latin-1 and a few beyond.
const SPECIAL = [...',+"\\<>;=# \r\n\tazAZ09.-_/:\'()?', '\u0000', '\u007f', 'é', 'ÿ', 'ß', 'Ω', '日', '😀', '\ufeff', '\ud800', '\udfff'];
const text = fc.array(fc.constantFrom(...SPECIAL), { maxLength: 12 }).map((a) => a.join(''));
const latin1Bytes = fc.array(fc.constantFrom(...[...',+"\\<>;=# \r\n\taZ0'].map((c) => c.charCodeAt(0)), 0x00, 0x7f, 0x80, 0xe9, 0xff), { maxLength: 12 }).map((a) => Uint8Array.from(a));

const utf16be = (s: string) => {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[i * 2] = s.charCodeAt(i) >> 8;
    out[i * 2 + 1] = s.charCodeAt(i) & 0xff;
  }
  return out;
};
const ucs4be = (s: string) => Uint8Array.from([...s].flatMap((c) => { const p = c.codePointAt(0)!; return [p >>> 24, (p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff]; }));
const hasSurrogate = (s: string) => /[\ud800-\udfff]/.test(s);
const codePoints = (b: Uint8Array, width: number) =>
  Array.from({ length: b.length / width }, (_, i) => (width === 2 ? (b[2 * i]! << 8) | b[2 * i + 1]! : ((b[4 * i]! << 24) >>> 0) + (b[4 * i + 1]! << 16) + (b[4 * i + 2]! << 8) + b[4 * i + 3]!));
const ucsValid = (b: Uint8Array, width: number) => b.length % width === 0 && codePoints(b, width).every((p) => p <= 0x10ffff && (p < 0xd800 || p > 0xdfff));
const hasAstral = (b: Uint8Array) => codePoints(b, 4).some((p) => p > 0xffff);
const isValidUtf8 = (b: Uint8Array) => { try { new TextDecoder('utf-8', { fatal: true }).decode(b); return true; } catch { return false; } };

const value: fc.Arbitrary<{ tag: number; value: Uint8Array; supported: boolean }> = fc.oneof(
  // UTF8String from text (valid) and from raw bytes (maybe invalid).
  text.map((s) => ({ tag: 0x0c, value: new TextEncoder().encode(s), supported: true })),
  fc.uint8Array({ maxLength: 8 }).map((b) => ({ tag: 0x0c, value: b, supported: isValidUtf8(b) })),
  // Byte-per-character strings.
  fc.tuple(fc.constantFrom(0x13, 0x14, 0x16), latin1Bytes).map(([tag, b]) => ({ tag, value: b, supported: true })),
  // BMPString (UCS-2): well-formed, with surrogates (none is UCS-2), odd lengths.
  text.map((s) => ({ tag: 0x1e, value: utf16be(s), supported: !hasSurrogate(s) })),
  fc.uint8Array({ maxLength: 7 }).map((b) => ({ tag: 0x1e, value: b, supported: ucsValid(b, 2) })),
  // UniversalString (UCS-4): astral characters (exact here, cut to 16 bits by asn1js), lone surrogates, bad lengths.
  text.map((s) => ({ tag: 0x1c, value: ucs4be(s), supported: ucsValid(ucs4be(s), 4), astral: [...s].some((c) => c.codePointAt(0)! > 0xffff) })),
  fc.uint8Array({ maxLength: 9 }).map((b) => ({ tag: 0x1c, value: b, supported: ucsValid(b, 4), astral: ucsValid(b, 4) && hasAstral(b) })),
  // Types AttributeValue holds as ANY (printed as #hex).
  fc.tuple(fc.constantFrom(0x12, 0x15, 0x19, 0x1a, 0x1b), latin1Bytes).map(([tag, b]) => ({ tag, value: b, supported: true })),
  // Types dn.ts leaves to the reference.
  fc.tuple(fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x17, 0x18, 0x80, 0x30, 0x31), fc.uint8Array({ maxLength: 4 })).map(([tag, b]) => ({ tag, value: b, supported: false })),
);
const attr: fc.Arbitrary<Attr> = fc.tuple(fc.constantFrom(...OIDS), value).map(([oid, v]) => ({ oid, ...v }));
const nameArb = fc.array(fc.array(attr, { minLength: 1, maxLength: 3 }), { maxLength: 5 });

describe('decodeName renders names exactly as @peculiar/x509', () => {
  it('for generated names: every string type, escaping, multi-valued RDNs, unknown OIDs', () => {
    fc.assert(
      fc.property(nameArb, (rdns) => {
        expectSame(encodeName(rdns), rdns.every((r) => r.every((a) => a.supported)), !rdns.some((r) => r.some((a) => a.astral)));
      }),
      { numRuns: 4000, seed: 20251123 },
    );
  });

  it.each([
    ['CN=a\\,b, O=x\\+y', 'CN=a\\,b, O=x\\+y'],
    ['quoted', 'CN="quoted, value", O=Corp'],
    ['multi-valued', 'CN=a+O=b+OU=c, C=DE'],
    ['unicode', 'CN=Zürich 😀, O=日本'],
    ['email and dc', 'E=user@corp.example, DC=corp, DC=example'],
    ['hex value', 'CN=x, 2.5.4.5=#130331323334'],
    ['unknown OID', '1.2.3.4=unknown, CN=x'],
  ])('for a name @peculiar/x509 itself writes: %s', (_label, dn) => {
    const der = new Uint8Array(new x509.Name(dn).toArrayBuffer());
    expectSame(der, true);
  });

  it('renders the escaping rules as @peculiar/x509 does (spot checks)', () => {
    const cn = (v: string, tag = 0x0c) => encodeName([[{ oid: '2.5.4.3', tag, value: new TextEncoder().encode(v), supported: true }]]);
    expect(decodeName(cn('a,b+c"d\\e<f>g;h=i'))!.text).toBe('CN=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h=i');
    expect(decodeName(cn('#x'))!.text).toBe('CN=\\#x');
    expect(decodeName(cn(' x '))!.text).toBe('CN=\\ x\\ ');
    expect(decodeName(cn('a\nb\nc'))!.text).toBe('CN=a\\0Ab\nc');
    expect(decodeName(cn('123', 0x12))).toMatchObject({ text: 'CN=#1203313233', commonNames: ['1203313233'] });
    expect(decodeName(encodeName([]))).toEqual({ text: '', commonNames: [], rdns: [], emails: [] });
  });

  it('declines what it does not model', () => {
    expect(decodeName(tlv(0x30, tlv(0x31)))).toBeUndefined(); // empty RDN
    expect(decodeName(encodeName([[{ oid: '2.5.4.3', tag: 0x0c, value: Uint8Array.of(0xc3, 0x28), supported: false }]]))).toBeUndefined();
    expect(decodeName(encodeName([[{ oid: '2.5.4.3', tag: 0x02, value: Uint8Array.of(1), supported: false }]]))).toBeUndefined();
  });
});

describe('BMPString and UniversalString are decoded exactly (issue 7, defect 4)', () => {
  const cnOf = (tag: number, value: Uint8Array) => encodeName([[{ oid: '2.5.4.3', tag, value, supported: true }]]);
  // The review's name: each character of "agent-1" moved to plane 1 (U+10061 …), which asn1js read as "agent-1".
  const astral = [...'agent-1'].map((c) => String.fromCodePoint(0x10000 + c.charCodeAt(0))).join('');

  it('reads non-BMP UniversalString characters as themselves, never as their low 16 bits', () => {
    expect(decodeName(cnOf(0x1c, ucs4be(astral)))!.commonNames).toEqual([astral]);
    expect(decodeName(cnOf(0x1c, ucs4be('agent-1')))!.commonNames).toEqual(['agent-1']);
  });

  it('declines, and nameStringProblem names, what is not UCS-2 / UCS-4', () => {
    const bad = [
      cnOf(0x1e, Uint8Array.of(0xd8, 0x00, 0x00, 0x61)), // BMPString with a lone high surrogate
      cnOf(0x1e, utf16be('😀')), // a surrogate pair is UTF-16, not UCS-2
      cnOf(0x1e, Uint8Array.of(0x00, 0x61, 0x00)), // odd length
      cnOf(0x1c, Uint8Array.of(0x00, 0x11, 0x00, 0x00)), // beyond U+10FFFF
      cnOf(0x1c, Uint8Array.of(0x00, 0x00, 0xdc, 0x00)), // a surrogate code point
      cnOf(0x1c, Uint8Array.of(0x00, 0x00, 0x61)), // not a multiple of 4
    ];
    for (const der of bad) {
      expect(decodeName(der)).toBeUndefined();
      expect(nameStringProblem(der)).toMatch(/not valid UCS-[24]/);
    }
    expect(nameStringProblem(cnOf(0x1c, ucs4be(astral)))).toBeUndefined();
  });
});
