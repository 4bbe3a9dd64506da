import { percentDecode, UNRESERVED_AND_BASE64 } from '../encoding.js';
import { malformed } from '../refusals.js';
import { parsePemCertificates } from '../pem.js';
import type { FormatDecoder } from './format-decoder.js';

const ARMOR = /(-----(?:BEGIN|END) CERTIFICATE-----)/;

/**
 * `%{SSL_CLIENT_CERT}s`: mod_headers turns each newline of the PEM into one space, so the
 * value is `-----BEGIN CERTIFICATE----- MIIC… … -----END CERTIFICATE-----`. The armor lines
 * contain a space themselves, so only the spaces outside the armor are line breaks. A doubled
 * space becomes an empty line inside the block, which the strict PEM parser refuses.
 */
function spacedPemToPem(value: string, what: string): string {
  if (/[\r\n\t]/.test(value)) throw malformed(what, 'control character in a space-separated PEM');
  return value
    .split(ARMOR)
    // split() with a capture group puts the armor lines at the odd indexes.
    .map((part, i) => (i % 2 === 1 ? part : part.replaceAll(' ', '\n')))
    .join('');
}

/**
 * Apache httpd, both ways of forwarding `SSL_CLIENT_CERT` (and `SSL_CLIENT_CERT_CHAIN_n` in
 * the chain header): the spaced PEM above, or `expr=%{escape:%{SSL_CLIENT_CERT}}`, which
 * percent-escapes with lowercase hex and leaves `+ / =` raw. PEM never contains `%`, so its
 * presence tells the two apart. `(null)` (no cert, or no chain on a resumed session) is
 * handled before this runs, as "absent".
 */
const decode = (what: string) => (value: string) =>
  parsePemCertificates(
    value.includes('%') ? percentDecode(value, UNRESERVED_AND_BASE64, what) : spacedPemToPem(value, what),
    what,
  );

export const apacheDecoder: FormatDecoder = {
  value: decode('apache certificate header'),
  chain: decode('apache chain header'),
};
