import { decodeConcatenatedDerBase64, decodeDerBase64 } from './der-base64.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * HAProxy: `%[ssl_c_der,base64]` is base64 DER of the leaf (never quoted, even with `%{+Q}`);
 * `%[ssl_c_chain_der,base64]` (2.3+) is base64 of the intermediates' DER concatenated, which we
 * split by ASN.1 lengths. The chain is empty on a resumed TLS session: fine, not an error.
 */
export const haproxyDecoder: FormatDecoder = {
  value: (v) => decodeDerBase64(v, 'haproxy certificate header'),
  chain: (v) => decodeConcatenatedDerBase64(v, 'haproxy chain header'),
};
