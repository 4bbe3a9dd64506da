/** Formats of `trustedProxies[].format`: how a terminator encodes the forwarded certificate. */
export const HEADER_FORMATS = [
  'nginx', 'haproxy', 'alb', 'envoy-xfcc', 'traefik', 'caddy', 'apache', 'azure', 'rfc9440', 'pem', 'der-base64',
] as const;
export type HeaderFormat = (typeof HEADER_FORMATS)[number];

/** One `trustedProxies` entry after config validation (header names lower-cased). */
export interface TrustedProxyConfig {
  cidrs: string[];
  header: string;
  format: HeaderFormat;
  chainHeader?: string;
  verifyHeader?: string;
}

/** Certificates as the terminator forwarded them, DER, leaf first; chain = the other certs sent. */
export interface ForwardedCerts {
  leaf: Uint8Array;
  chain: Uint8Array[];
}

/** Per-header cap before any decoding, and cap on the number of certificates in a chain. */
export const MAX_CERT_HEADER_BYTES = 32 * 1024;
export const MAX_CHAIN_LENGTH = 10;
