import { describe, expect, it } from 'vitest';
import { decodeForwardedCertificate } from '../../src/proxy/decode.js';
import { parseXfcc } from '../../src/proxy/xfcc.js';
import { nginxEscape, pem } from './encoders.js';
import { INTERMEDIATE_DER, LEAF_DER, LEAF_SHA256, ROGUE_DER, sampleValue, sha256 } from './fixtures.js';

const malformed = expect.objectContaining({ code: 'malformed_certificate_header', status: 400 });
const obj = (v: string) => parseXfcc(v).map((e) => Object.fromEntries(e));
const CERT = nginxEscape(pem([LEAF_DER]));
const CHAIN = nginxEscape(pem([LEAF_DER, INTERMEDIATE_DER]));

describe('parseXfcc grammar', () => {
  it('splits elements on , and pairs on ; only outside quotes', () => {
    expect(obj('By=a;URI=b,By=c;Subject="x,y;z=w"')).toEqual([
      { by: ['a'], uri: ['b'] },
      { by: ['c'], subject: ['x,y;z=w'] },
    ]);
  });

  it('unescapes \\" and \\\\ in quoted values and keeps other backslash pairs (RFC 4514 DNs)', () => {
    expect(obj('Subject="CN=a\\"b\\\\c,O=Example\\, Inc."')).toEqual([{ subject: ['CN=a"b\\c,O=Example\\, Inc.'] }]);
  });

  it('allows = inside unquoted values, empty values, OWS after the element comma, any key case', () => {
    expect(obj('URI=spiffe://x?a=b;Subject="";dns=,  by=z')).toEqual([{ uri: ['spiffe://x?a=b'], subject: [''], dns: [''] }, { by: ['z'] }]);
  });

  it('keeps every URI and DNS pair: one per SAN', () => {
    expect(obj('URI=a;URI=b;DNS=c;DNS=d')).toEqual([{ uri: ['a', 'b'], dns: ['c', 'd'] }]);
  });

  it('refuses a repeated By, Hash, Cert, Chain or Subject in one element (smuggling)', () => {
    for (const k of ['By', 'Hash', 'Cert', 'Chain', 'Subject']) expect(() => parseXfcc(`${k}=a;URI=u;${k}=b`)).toThrow(malformed);
    expect(() => parseXfcc('Hash=a;hash=b')).toThrow(malformed);
  });

  it('refuses broken syntax', () => {
    for (const bad of [
      'By', '=a', 'By=a;', 'By=a,', ',By=a', 'By=a;;URI=b', 'By=a,,By=b', 'B y=a', 'By="a', 'By="a\\"', 'By="a"b',
      'By=a"b', 'By="a" ;URI=b', 'By=a; URI=b', '1=a',
    ]) {
      expect(() => parseXfcc(bad), bad).toThrow(malformed);
    }
  });
});

describe('envoy-xfcc decoding', () => {
  const decode = (v: string) => decodeForwardedCertificate('envoy-xfcc', v);
  const hashes = (v: string) => {
    const c = decode(v);
    return c && [sha256(c.leaf), ...c.chain.map(sha256)];
  };

  it('uses the LAST element: the hop our trusted proxy saw itself', () => {
    const forgedFirst = `Hash=${sha256(ROGUE_DER)};Cert="${nginxEscape(pem([ROGUE_DER]))}",By=spiffe://edge;Hash=${LEAF_SHA256};Cert="${CERT}"`;
    expect(hashes(forgedFirst)).toEqual([LEAF_SHA256]);
  });

  it('returns null when the last element has no Cert or Chain, even if an earlier one does', () => {
    expect(decode(`Cert="${CERT}",By=spiffe://mesh;Hash=${LEAF_SHA256};URI=spiffe://gw`)).toBeNull();
    expect(decode(`Hash=${LEAF_SHA256};URI=spiffe://x;DNS=x`)).toBeNull();
    expect(decode('By=spiffe://x;Cert="";Chain=""')).toBeNull();
  });

  it('takes Chain (which includes the leaf) as leaf + intermediates, with or without Cert', () => {
    expect(hashes(`Cert="${CERT}";Chain="${CHAIN}"`)).toEqual([LEAF_SHA256, sha256(INTERMEDIATE_DER)]);
    expect(hashes(`Chain="${CHAIN}"`)).toEqual([LEAF_SHA256, sha256(INTERMEDIATE_DER)]);
  });

  it('accepts an unquoted Cert (it contains no separator once escaped)', () => {
    expect(hashes(`Cert=${CERT}`)).toEqual([LEAF_SHA256]);
  });

  it('refuses a Chain that does not start with Cert, and a Cert with several certificates', () => {
    expect(() => decode(`Cert="${CERT}";Chain="${nginxEscape(pem([INTERMEDIATE_DER]))}"`)).toThrow(malformed);
    expect(() => decode(`Cert="${CHAIN}"`)).toThrow(malformed);
  });

  it('refuses a Hash that is not the SHA-256 of Cert with 401 xfcc_hash_mismatch', () => {
    const mismatch = expect.objectContaining({ code: 'xfcc_hash_mismatch', status: 401 });
    expect(() => decode(`Hash=${sha256(ROGUE_DER)};Cert="${CERT}"`)).toThrow(mismatch);
    const sample = sampleValue('envoy-xfcc-sanitize_set-all-details.value');
    expect(() => decode(sample.replace(`Hash=${LEAF_SHA256}`, `Hash=${'0'.repeat(64)}`))).toThrow(mismatch);
  });

  it('compares Hash case-insensitively and refuses one that is not 64 hex digits', () => {
    expect(hashes(`Hash=${LEAF_SHA256.toUpperCase()};Cert="${CERT}"`)).toEqual([LEAF_SHA256]);
    expect(() => decode(`Hash=0000;Cert="${CERT}"`)).toThrow(malformed);
  });

  it('refuses a Cert with raw PEM characters (it must be escaped like nginx)', () => {
    expect(() => decode(`Cert="${CERT.replaceAll('%2B', '+')}"`)).toThrow(malformed);
  });

  it('refuses a separate chain header: XFCC carries Chain inline', () => {
    expect(() => decodeForwardedCertificate('envoy-xfcc', `Cert="${CERT}"`, 'x')).toThrow(TypeError);
  });
});
