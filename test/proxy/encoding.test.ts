import { describe, expect, it } from 'vitest';
import { decodeBase64Strict, isAbsentValue, percentDecode, trimOws, UNRESERVED, UNRESERVED_AND_BASE64 } from '../../src/proxy/encoding.js';

const malformed = expect.objectContaining({ code: 'malformed_certificate_header', status: 400 });

describe('percentDecode (RFC 3986, never form-decoding)', () => {
  it('decodes upper- and lower-case hex escapes', () => {
    expect(percentDecode('a%20b%0Ac%0a%2B%2b', UNRESERVED, 't')).toBe('a b\nc\n++');
  });

  it('keeps a raw + as + where the format allows it raw (ALB, Apache escape)', () => {
    expect(percentDecode('ab+/=%0A', UNRESERVED_AND_BASE64, 't')).toBe('ab+/=\n');
  });

  it('refuses a raw character the terminator would have escaped', () => {
    for (const raw of ['a+b', 'a b', 'a\nb', 'a/b', 'a=b', 'a"b', 'é']) {
      expect(() => percentDecode(raw, UNRESERVED, 't')).toThrow(malformed);
    }
  });

  it('refuses bad escapes: lone %, one hex digit, non-hex, at the end', () => {
    for (const bad of ['%', '%2', '%G0', 'ab%', 'ab%4', '%%41', '%2%41']) {
      expect(() => percentDecode(bad, UNRESERVED, 't')).toThrow(malformed);
    }
  });

  it('decodes bytes one to one (no UTF-8 interpretation, no URIError)', () => {
    expect(percentDecode('%C3%28%FF', UNRESERVED, 't')).toBe('\u00c3(\u00ff');
  });
});

describe('decodeBase64Strict', () => {
  it('decodes canonical padded standard base64', () => {
    expect(Buffer.from(decodeBase64Strict('+/8=', 't'))).toEqual(Buffer.from([0xfb, 0xff]));
    expect(Buffer.from(decodeBase64Strict('AAAA', 't'))).toEqual(Buffer.alloc(3));
  });

  it('refuses missing padding, url-safe alphabet, whitespace, inner padding and stray bits', () => {
    for (const bad of ['', 'AA', 'AAA', '-_8=', 'AA AA', 'AAAA\n', 'AA==AAAA', 'AB==', 'AAB=', 'A===', '====']) {
      expect(() => decodeBase64Strict(bad, 't')).toThrow(malformed);
    }
  });

  it('returns a fresh array, not a view into Node\'s Buffer pool', () => {
    const out = decodeBase64Strict('AAAA', 't');
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(3);
  });
});

describe('absent markers', () => {
  it('treats empty, (null), -, and a literal Caddy placeholder as no certificate', () => {
    for (const v of ['', '(null)', '-', '{http.request.tls.client.certificate_der_base64}']) expect(isAbsentValue(v)).toBe(true);
  });

  it('does not treat lookalikes as absent', () => {
    for (const v of ['null', '(NULL)', '--', '{http.request.tls}x', '{foo}', '""']) expect(isAbsentValue(v)).toBe(false);
  });

  it('trims only SP and HTAB (RFC 9110 OWS), not newlines', () => {
    expect(trimOws(' \t a b \t')).toBe('a b');
    expect(trimOws('\na\n')).toBe('\na\n');
  });
});
