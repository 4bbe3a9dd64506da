import { decodeConcatenatedDerBase64, decodeDerBase64 } from './der-base64.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * Caddy `header_up … {http.request.tls.client.certificate_der_base64}`: base64 DER of the leaf.
 * (The `_pem` placeholder contains newlines and breaks the request, so it is not a format.)
 * When no certificate was presented, Caddy < 2.11.2 forwards the placeholder literally; that
 * is handled before any decoder runs, as "no certificate".
 */
export const caddyDecoder: FormatDecoder = {
  value: (v) => decodeDerBase64(v, 'caddy certificate header'),
  chain: (v) => decodeConcatenatedDerBase64(v, 'caddy chain header'),
};
