import { percentDecode, UNRESERVED_AND_BASE64 } from '../encoding.js';
import { parsePemCertificates } from '../pem.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * AWS ALB `X-Amzn-Mtls-Clientcert` (passthrough: every PEM the client sent, leaf first) and
 * `X-Amzn-Mtls-Clientcert-Leaf` (verify mode): percent-encoded PEM with `+ = /` left raw.
 * RFC 3986 decoding only: form-decoding would turn the raw `+` into a space.
 */
const decode = (what: string) => (value: string) =>
  parsePemCertificates(percentDecode(value, UNRESERVED_AND_BASE64, what), what);

export const albDecoder: FormatDecoder = {
  value: decode('alb certificate header'),
  chain: decode('alb chain header'),
};
