import type { HeaderFormat } from '../../src/proxy/types.js';

/**
 * Independent encoders that produce what each terminator sends, written from the terminators'
 * documented behaviour (not from the decoders), so that decode(encode(x)) = x is a real check.
 * `certs` is leaf first; formats with a separate chain header put the rest there.
 */
export interface Encoded {
  value: string;
  chainValue?: string;
}

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
const concat = (ders: Uint8Array[]) => Buffer.concat(ders.map((d) => Buffer.from(d)));

/** RFC 7468 PEM: 64-character lines, each block ending in a newline (as OpenSSL writes it). */
export const pem = (ders: Uint8Array[]): string =>
  ders
    .map((d) => `-----BEGIN CERTIFICATE-----\n${b64(d).replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`)
    .join('');

/** nginx NGX_ESCAPE_URI_COMPONENT and Envoy's PEM escaping: uppercase hex, `-` and alnum raw. */
export const nginxEscape = (s: string) => encodeURIComponent(s);
/** ALB: only the space and the newline are escaped, `+ = /` stay raw. */
export const albEscape = (s: string) => s.replaceAll(' ', '%20').replaceAll('\n', '%0A');
/** Apache `%{escape:…}`: lowercase hex, `+ = /` raw. */
export const apacheEscape = (s: string) => s.replaceAll(' ', '%20').replaceAll('\n', '%0a');
/** mod_headers: each newline becomes a space. */
export const apacheSpaces = (s: string) => s.replaceAll('\n', ' ');
/** Go url.QueryEscape on base64: `+ / =` escaped (uppercase hex). */
const queryEscape = (s: string) => encodeURIComponent(s);

export const ENCODERS: Record<HeaderFormat | 'traefik-legacy' | 'apache-escaped', (certs: Uint8Array[], hashHex: string) => Encoded> = {
  nginx: (c) => ({ value: nginxEscape(pem(c)) }),
  haproxy: ([leaf, ...chain]) => ({ value: b64(leaf!), chainValue: chain.length ? b64(concat(chain)) : '' }),
  alb: (c) => ({ value: albEscape(pem(c)) }),
  'envoy-xfcc': (c, hash) => ({
    value:
      `By=spiffe://example.org/ns/edge/sa/gateway;Hash=${hash};Cert="${nginxEscape(pem(c.slice(0, 1)))}";` +
      `Chain="${nginxEscape(pem(c))}";Subject="CN=a\\, b,O=\\"q\\"";URI=spiffe://x/a;URI=spiffe://x/b;DNS=a.example`,
  }),
  traefik: (c) => ({ value: c.map(b64).join(',') }),
  'traefik-legacy': (c) => ({ value: c.map((d) => queryEscape(b64(d))).join(',') }),
  caddy: ([leaf, ...chain]) => ({ value: b64(leaf!), ...(chain.length > 0 && { chainValue: b64(concat(chain)) }) }),
  azure: ([leaf, ...chain]) => ({ value: b64(leaf!), ...(chain.length > 0 && { chainValue: b64(concat(chain)) }) }),
  'der-base64': ([leaf, ...chain]) => ({ value: b64(leaf!), ...(chain.length > 0 && { chainValue: b64(concat(chain)) }) }),
  apache: ([leaf, ...chain]) => ({
    value: apacheSpaces(pem([leaf!])),
    chainValue: chain.length ? apacheSpaces(pem(chain)) : '(null)',
  }),
  'apache-escaped': ([leaf, ...chain]) => ({
    value: apacheEscape(pem([leaf!])),
    ...(chain.length > 0 && { chainValue: apacheEscape(pem(chain)) }),
  }),
  rfc9440: ([leaf, ...chain]) => ({
    value: `:${b64(leaf!)}:`,
    ...(chain.length > 0 && { chainValue: chain.map((d) => `:${b64(d)}:`).join(', ') }),
  }),
  pem: (c) => ({ value: pem(c) }),
};

/** The decoder format behind each encoder variant. */
export const formatOf = (variant: keyof typeof ENCODERS): HeaderFormat =>
  variant === 'traefik-legacy' ? 'traefik' : variant === 'apache-escaped' ? 'apache' : variant;
