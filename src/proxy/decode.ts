import { MAX_CERT_HEADER_BYTES, MAX_CHAIN_LENGTH, type ForwardedCerts, type HeaderFormat } from './types.js';
import { isAbsentValue, trimOws } from './encoding.js';
import { chainTooLong, tooLarge } from './refusals.js';
import type { FormatDecoder } from './decoders/format-decoder.js';
import { albDecoder } from './decoders/alb.js';
import { apacheDecoder } from './decoders/apache.js';
import { azureDecoder } from './decoders/azure.js';
import { caddyDecoder } from './decoders/caddy.js';
import { derBase64Decoder } from './decoders/der-base64.js';
import { envoyXfccDecoder } from './decoders/envoy-xfcc.js';
import { haproxyDecoder } from './decoders/haproxy.js';
import { nginxDecoder } from './decoders/nginx.js';
import { pemDecoder } from './decoders/pem.js';
import { rfc9440Decoder } from './decoders/rfc9440.js';
import { traefikDecoder } from './decoders/traefik.js';

const DECODERS: Record<HeaderFormat, FormatDecoder> = {
  nginx: nginxDecoder,
  haproxy: haproxyDecoder,
  alb: albDecoder,
  'envoy-xfcc': envoyXfccDecoder,
  traefik: traefikDecoder,
  caddy: caddyDecoder,
  apache: apacheDecoder,
  azure: azureDecoder,
  rfc9440: rfc9440Decoder,
  pem: pemDecoder,
  'der-base64': derBase64Decoder,
};

/** True when `format` can take a separate `chainHeader` (all but XFCC, which carries Chain inline). */
export const supportsChainHeader = (format: HeaderFormat): boolean => DECODERS[format].chain !== undefined;

function checkSize(value: string, what: string): void {
  // Node hands header values over as latin1 (one char per wire byte); for any other string
  // UTF-8 length is the honest measure. Checked before any decoding work is done.
  const bytes = value.length > MAX_CERT_HEADER_BYTES ? value.length : Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_CERT_HEADER_BYTES) throw tooLarge(what, bytes, MAX_CERT_HEADER_BYTES);
}

/**
 * Decodes a forwarded client certificate header (and the optional separate chain header) in
 * the terminator's `format` into DER, leaf first. Returns null for "no certificate" (empty,
 * `(null)`, `-`, a literal Caddy placeholder, an XFCC hop without Cert). Throws CertgateError:
 * 431 `certificate_header_too_large`, 400 `malformed_certificate_header`, 400 `chain_too_long`
 * (more than MAX_CHAIN_LENGTH certificates besides the leaf), 401 `xfcc_hash_mismatch`.
 * Every returned blob is one complete DER SEQUENCE in its own ArrayBuffer; nothing here says
 * the certificate is valid or trusted: the caller validates the chain against an identity.
 */
export function decodeForwardedCertificate(
  format: HeaderFormat,
  value: string,
  chainValue?: string,
): ForwardedCerts | null {
  const decoder = DECODERS[format];
  if (!decoder) throw new TypeError(`unknown certificate header format ${JSON.stringify(format)}`);
  checkSize(value, 'certificate header');
  if (chainValue !== undefined) checkSize(chainValue, 'chain header');

  const trimmed = trimOws(value);
  if (isAbsentValue(trimmed)) return null;
  const certs = decoder.value(trimmed);
  const [leaf, ...chain] = certs;
  if (!leaf) return null;

  const trimmedChain = chainValue === undefined ? '' : trimOws(chainValue);
  if (!isAbsentValue(trimmedChain)) {
    if (!decoder.chain) throw new TypeError(`format ${format} does not take a separate chain header`);
    chain.push(...decoder.chain(trimmedChain));
  }
  if (chain.length > MAX_CHAIN_LENGTH) throw chainTooLong('forwarded certificate', MAX_CHAIN_LENGTH);
  return { leaf, chain };
}
