import { assertOneDerSequence, splitDerSequences } from '../der.js';
import { decodeBase64Strict } from '../encoding.js';
import type { FormatDecoder } from './format-decoder.js';

/** One certificate: standard padded base64 of its DER, nothing else (no armor, no quotes). */
export const decodeDerBase64 = (value: string, what: string): Uint8Array[] => [
  assertOneDerSequence(decodeBase64Strict(value, what), what),
];

/** Several certificates: base64 of their DER concatenated, split by ASN.1 lengths. */
export const decodeConcatenatedDerBase64 = (value: string, what: string): Uint8Array[] =>
  splitDerSequences(decodeBase64Strict(value, what), what);

/**
 * `der-base64`: the generic single-DER format (e.g. Cloudflare `Cf-Client-Cert-Der-Base64`).
 * A chain header, when configured, is base64 of concatenated DER like HAProxy's.
 */
export const derBase64Decoder: FormatDecoder = {
  value: (v) => decodeDerBase64(v, 'certificate header'),
  chain: (v) => decodeConcatenatedDerBase64(v, 'chain header'),
};
