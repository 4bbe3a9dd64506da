import { decodeBase64Strict, MAX_CERTS_IN_ONE_HEADER, percentDecode, UNRESERVED } from '../encoding.js';
import { assertOneDerSequence } from '../der.js';
import { chainTooLong, malformed } from '../refusals.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * Traefik `passTLSClientCert: {pem: true}` → `X-Forwarded-Tls-Client-Cert`: base64 DER of each
 * certificate the client sent, joined by `,`, leaf first. Up to v2.9.1 each piece was also
 * Go `url.QueryEscape`d (`+ / =` as `%2B %2F %3D`; the comma separator stays raw). A piece
 * with an escape must contain nothing else raw but unreserved characters: a raw `+` next to
 * escapes would mean a space in query encoding, and we refuse rather than guess.
 * (`X-Forwarded-Tls-Client-Cert-Info` is a different, DN-only header and is refused.)
 */
function decodeList(value: string, what: string, max: number): Uint8Array[] {
  const pieces = value.split(',');
  if (pieces.length > max) throw chainTooLong(what, MAX_CERTS_IN_ONE_HEADER - 1);
  return pieces.map((piece, i) => {
    if (piece === '') throw malformed(what, `empty list member ${i}`);
    const b64 = piece.includes('%') ? percentDecode(piece, UNRESERVED, what) : piece;
    return assertOneDerSequence(decodeBase64Strict(b64, what), what);
  });
}

export const traefikDecoder: FormatDecoder = {
  value: (v) => decodeList(v, 'traefik certificate header', MAX_CERTS_IN_ONE_HEADER),
  chain: (v) => decodeList(v, 'traefik chain header', MAX_CERTS_IN_ONE_HEADER - 1),
};
