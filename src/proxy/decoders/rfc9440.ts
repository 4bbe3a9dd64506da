import { assertOneDerSequence } from '../der.js';
import { decodeBase64Strict, MAX_CERTS_IN_ONE_HEADER, trimOws } from '../encoding.js';
import { chainTooLong, malformed } from '../refusals.js';
import type { FormatDecoder } from './format-decoder.js';

const BYTE_SEQUENCE = /^:([A-Za-z0-9+/=]*):$/;

/**
 * RFC 8941 Byte Sequence `:base64:` holding one DER certificate. Parameters are refused (RFC
 * 9440 senders never add any). Base64 must be padded: RFC 8941 serializers always pad, and we
 * apply the same strict base64 as everywhere else rather than its lenient-parser advice.
 */
function byteSequenceCert(item: string, what: string): Uint8Array {
  const m = BYTE_SEQUENCE.exec(item);
  if (!m) throw malformed(what, 'not a structured-field byte sequence');
  return assertOneDerSequence(decodeBase64Strict(m[1]!, what), what);
}

/**
 * RFC 8941 List of Byte Sequences: members separated by `,` with optional SP/HTAB around it;
 * no empty members, no trailing comma. Byte sequences contain no comma, so splitting is exact.
 */
function byteSequenceList(value: string, what: string): Uint8Array[] {
  const members = value.split(',');
  if (members.length > MAX_CERTS_IN_ONE_HEADER - 1) throw chainTooLong(what, MAX_CERTS_IN_ONE_HEADER - 1);
  return members.map((m) => byteSequenceCert(trimOws(m), what));
}

/**
 * RFC 9440 `Client-Cert` (GCP mTLS `{client_cert_leaf}`, Cloudflare transform rules) and
 * `Client-Cert-Chain` (`{client_cert_chain}`), which excludes the leaf. The chain is one field
 * line here: a repeated chain header is refused upstream as a duplicate.
 */
export const rfc9440Decoder: FormatDecoder = {
  value: (v) => [byteSequenceCert(v, 'rfc9440 Client-Cert')],
  chain: (v) => byteSequenceList(v, 'rfc9440 Client-Cert-Chain'),
};
