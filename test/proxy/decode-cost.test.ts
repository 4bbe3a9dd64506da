import { describe, expect, it } from 'vitest';
import { decodeForwardedCertificate } from '../../src/proxy/decode.js';
import { parseXfcc } from '../../src/proxy/xfcc.js';
import { HEADER_FORMATS, MAX_CERT_HEADER_BYTES } from '../../src/proxy/types.js';

/**
 * Any value a client can get past the 32 KiB cap is decoded in linear time: a regex that
 * backtracks (e.g. `/[ \t]+$/` on spaces followed by a letter) turns one header into a
 * CPU-second. The budget is far above the ~1 ms linear code needs and far below the old 0.7 s.
 */
const N = MAX_CERT_HEADER_BYTES - 2;
const SHAPES = {
  'spaces then a letter': `a${' '.repeat(N)}b`,
  'tabs and spaces': `x${' \t'.repeat(N / 2)}y`,
  'base64 then a bad char': `${'A'.repeat(N)}!`,
  'percent escapes': '%41'.repeat(Math.floor(N / 3)),
  'almost an escape': `${'%4'.repeat(N / 2)}`,
  'xfcc pairs': 'a=b;'.repeat(N / 4).slice(0, -1),
  'xfcc elements': 'a=b,'.repeat(N / 4).slice(0, -1),
  'xfcc open quote': `Cert="${'\\"'.repeat(N / 2 - 4)}`,
  'key without =': 'k'.repeat(N),
  'commas': ','.repeat(N),
  'colons': `:${'A'.repeat(N - 2)}`,
  'armor repeated': '-----BEGIN CERTIFICATE----- '.repeat(Math.floor(N / 28)),
  'placeholder-like': `{http.request.${'x'.repeat(N - 20)}`,
  'bracketed': `[${':'.repeat(N)}`,
};

describe('decoding cost on 32 KiB worst cases', () => {
  it.each(Object.entries(SHAPES))('%s: every format answers in linear time', (_, value) => {
    const started = performance.now();
    for (const format of HEADER_FORMATS) {
      try {
        decodeForwardedCertificate(format, value, format === 'envoy-xfcc' ? undefined : value);
      } catch {
        // refusals are expected; only the time matters here
      }
    }
    try {
      parseXfcc(value);
    } catch {
      // same
    }
    expect(performance.now() - started).toBeLessThan(250);
  });
});
