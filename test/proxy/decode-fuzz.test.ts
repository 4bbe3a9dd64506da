import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCertgateError } from '../../src/errors.js';
import { decodeForwardedCertificate } from '../../src/proxy/decode.js';
import { assertOneDerSequence } from '../../src/proxy/der.js';
import { HEADER_FORMATS, MAX_CERT_HEADER_BYTES, type HeaderFormat } from '../../src/proxy/types.js';
import { ENCODERS, formatOf } from './encoders.js';
import { INTERMEDIATE_DER, LEAF_DER, LEAF_SHA256 } from './fixtures.js';

/**
 * Whatever a client or a broken proxy puts in the header, the decoder answers null, certificates
 * that are each one DER SEQUENCE, or a CertgateError with a 4xx status: never a TypeError, a
 * URIError, a RangeError or anything else that would become a 500.
 */
function assertWellBehaved(format: HeaderFormat, value: string, chainValue?: string): void {
  let result;
  try {
    result = decodeForwardedCertificate(format, value, chainValue);
  } catch (e) {
    if (isCertgateError(e) && e.status >= 400 && e.status < 500) return;
    throw e;
  }
  if (result === null) return;
  for (const der of [result.leaf, ...result.chain]) {
    expect(der).toBeInstanceOf(Uint8Array);
    expect(() => assertOneDerSequence(der, 'fuzz')).not.toThrow();
  }
}

// Envoy XFCC carries its chain inline; a separate chain header is a config error refused at startup.
const CHAIN_FORMATS = HEADER_FORMATS.filter((f) => f !== 'envoy-xfcc');

const TOKENS = [
  '%', '%2', '%0A', '%0a', '%2B', '%3D', '%25', '%G1', '"', '\\', '\\"', ',', ', ', ';', '=', ':', ' ', '  ', '\t', '\n', '\r\n',
  '-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', '-----BEGIN%20CERTIFICATE-----', 'MIIB', 'MIIC', 'AAAA', '==', '+', '/',
  'Cert=', 'Chain=', 'Hash=', 'By=', 'URI=', '(null)', '-', '{http.request.tls}', '0', '\u0000', '\u00ff', '€', '\ud83d\ude00', '\ud800',
  '0\u0082\u0002b', 'MAA=', 'MIAAAA==', 'MIQAAAAA', 'MIL////', LEAF_SHA256,
];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((t) => t.join(''));
const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), tokenSoup);

/** A valid value for the format, then randomly edited: the near misses where parsers break. */
const VALID: Record<HeaderFormat, string[]> = Object.fromEntries(HEADER_FORMATS.map((f) => [f, [] as string[]])) as never;
for (const variant of Object.keys(ENCODERS) as (keyof typeof ENCODERS)[]) {
  const enc = ENCODERS[variant]([LEAF_DER, INTERMEDIATE_DER], LEAF_SHA256);
  VALID[formatOf(variant)].push(enc.value);
}
const edit = fc.record({
  at: fc.nat(),
  del: fc.nat({ max: 6 }),
  insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ unit: 'binary', maxLength: 3 })),
});
const mutated = (format: HeaderFormat) =>
  fc.tuple(fc.constantFrom(...VALID[format]), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([v, edits]) =>
    edits.reduce((s, e) => {
      const at = e.at % (s.length + 1);
      return s.slice(0, at) + e.insert + s.slice(at + e.del);
    }, v),
  );

describe.each(HEADER_FORMATS)('%s decoder on hostile input', (format) => {
  it('arbitrary strings (unicode, %, quotes, armor, DER-ish prefixes) give null, DER or a 4xx CertgateError', () => {
    fc.assert(fc.property(anyString, (v) => assertWellBehaved(format, v)), { numRuns: 400 });
  });

  it('valid values with random edits give null, DER or a 4xx CertgateError', () => {
    fc.assert(fc.property(mutated(format), (v) => assertWellBehaved(format, v)), { numRuns: 400 });
  });

  it('anything longer than MAX_CERT_HEADER_BYTES is 431, whatever it contains', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, mutated(format)).filter((s) => s.length > 0), (chunk) => {
        const big = chunk.repeat(Math.ceil((MAX_CERT_HEADER_BYTES + 1) / chunk.length));
        expect(() => decodeForwardedCertificate(format, big)).toThrow(expect.objectContaining({ status: 431 }));
      }),
      { numRuns: 30 },
    );
  });
});

describe.each(CHAIN_FORMATS)('%s chain header on hostile input', (format) => {
  it('arbitrary chain values next to a valid leaf give DER or a 4xx CertgateError', () => {
    const leaf = VALID[format][0]!;
    fc.assert(fc.property(fc.oneof(anyString, mutated(format)), (c) => assertWellBehaved(format, leaf, c)), { numRuns: 300 });
  });
});
