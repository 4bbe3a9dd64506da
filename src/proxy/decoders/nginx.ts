import { percentDecode, UNRESERVED } from '../encoding.js';
import { parsePemCertificates } from '../pem.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * nginx `$ssl_client_escaped_cert` (and ingress-nginx `ssl-client-cert`): PEM percent-escaped
 * with NGX_ESCAPE_URI_COMPONENT, so only RFC 3986 unreserved characters appear raw. A raw
 * space, newline, `+`, `/` or `=` means the value is the unescaped `$ssl_client_cert` /
 * `$ssl_client_raw_cert` (deprecated, folded, invalid HTTP) or was form-mangled: refused.
 * nginx has no chain variable; a chain header, if an operator builds one, uses the same encoding.
 */
const decode = (what: string) => (value: string) => parsePemCertificates(percentDecode(value, UNRESERVED, what), what);

export const nginxDecoder: FormatDecoder = {
  value: decode('nginx certificate header'),
  chain: decode('nginx chain header'),
};
