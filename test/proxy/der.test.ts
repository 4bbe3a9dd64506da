import { describe, expect, it } from 'vitest';
import { assertOneDerSequence, splitDerSequences } from '../../src/proxy/der.js';
import { MAX_CHAIN_LENGTH } from '../../src/proxy/types.js';
import { concatBytes, INTERMEDIATE_DER, LEAF_DER, sha256, tlv } from './fixtures.js';

const malformed = expect.objectContaining({ code: 'malformed_certificate_header', status: 400 });
const check = (bytes: number[] | Uint8Array) => () => assertOneDerSequence(Uint8Array.from(bytes), 'test');

describe('assertOneDerSequence', () => {
  it('accepts real certificates and small well-formed SEQUENCEs', () => {
    expect(check(LEAF_DER)).not.toThrow();
    expect(check(INTERMEDIATE_DER)).not.toThrow();
    expect(check(tlv(0x30, tlv(0x02, [1])))).not.toThrow();
    expect(check(tlv(0x30, tlv(0x04, new Uint8Array(300))))).not.toThrow();
  });

  it('refuses empty input, other tags and an empty SEQUENCE', () => {
    expect(check([])).toThrow(malformed);
    expect(check(tlv(0x31, tlv(0x02, [1])))).toThrow(malformed);
    expect(check([0x30, 0x00])).toThrow(malformed);
  });

  it('refuses a truncated certificate, wherever it is cut', () => {
    for (const cut of [1, 2, 3, 4, 100, LEAF_DER.length - 1]) expect(check(LEAF_DER.subarray(0, cut))).toThrow(malformed);
  });

  it('refuses trailing bytes after the SEQUENCE (two certs where one is expected, garbage)', () => {
    expect(check(concatBytes(LEAF_DER, Uint8Array.of(0)))).toThrow(malformed);
    expect(check(concatBytes(LEAF_DER, INTERMEDIATE_DER))).toThrow(malformed);
  });

  it('refuses BER indefinite length, over-long and non-minimal lengths', () => {
    expect(check([0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00])).toThrow(malformed);
    expect(check([0x30, 0x85, 0, 0, 0, 0, 3, 0x02, 0x01, 0x01])).toThrow(malformed);
    expect(check([0x30, 0x81, 0x03, 0x02, 0x01, 0x01])).toThrow(malformed);
    expect(check([0x30, 0x82, 0x00, 0x83, ...tlv(0x04, new Uint8Array(0x80))])).toThrow(malformed);
  });

  it('refuses a SEQUENCE whose content is not a run of complete elements', () => {
    expect(check([0x30, 0x03, 0x02, 0x05, 0x01])).toThrow(malformed);
    expect(check([0x30, 0x01, 0x02])).toThrow(malformed);
    expect(check([0x30, 0x02, 0x1f, 0x00])).toThrow(malformed);
  });
});

describe('splitDerSequences (HAProxy ssl_c_chain_der)', () => {
  it('splits concatenated certificates by their ASN.1 lengths, in order', () => {
    const parts = splitDerSequences(concatBytes(INTERMEDIATE_DER, LEAF_DER, INTERMEDIATE_DER), 'chain');
    expect(parts.map(sha256)).toEqual([INTERMEDIATE_DER, LEAF_DER, INTERMEDIATE_DER].map(sha256));
  });

  it('returns copies in their own ArrayBuffer, not views into the input', () => {
    const input = concatBytes(INTERMEDIATE_DER, LEAF_DER);
    const [, second] = splitDerSequences(input, 'chain');
    expect(second!.byteOffset).toBe(0);
    expect(second!.buffer).not.toBe(input.buffer);
  });

  it('returns [] for no bytes and refuses a truncated last certificate', () => {
    expect(splitDerSequences(new Uint8Array(0), 'chain')).toEqual([]);
    expect(() => splitDerSequences(concatBytes(INTERMEDIATE_DER, LEAF_DER.subarray(0, 50)), 'chain')).toThrow(malformed);
  });

  it('stops with chain_too_long as soon as the cap is passed', () => {
    const tiny = tlv(0x30, tlv(0x05, []));
    const many = concatBytes(...Array.from({ length: 5000 }, () => tiny));
    expect(() => splitDerSequences(many, 'chain')).toThrow(expect.objectContaining({ code: 'chain_too_long', status: 400 }));
    expect(splitDerSequences(concatBytes(...Array.from({ length: MAX_CHAIN_LENGTH }, () => tiny)), 'chain')).toHaveLength(MAX_CHAIN_LENGTH);
  });
});
