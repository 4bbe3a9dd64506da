import { assertOneDerSequence } from './der.js';
import { decodeBase64Strict, MAX_CERTS_IN_ONE_HEADER } from './encoding.js';
import { chainTooLong, malformed } from './refusals.js';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const BASE64_LINE = /^[A-Za-z0-9+/=]+$/;

/**
 * Strict RFC 7468 parsing of one or more `CERTIFICATE` blocks, in order. LF or CRLF line ends;
 * empty lines only between blocks; no explanatory text, no headers, no other labels, no
 * whitespace inside lines. The body must be canonical padded base64 of one DER SEQUENCE.
 */
export function parsePemCertificates(text: string, what: string, max = MAX_CERTS_IN_ONE_HEADER): Uint8Array[] {
  const certs: Uint8Array[] = [];
  let body: string[] | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (body === null) {
      if (line === BEGIN) {
        if (certs.length === max) throw chainTooLong(what, max - 1);
        body = [];
      } else if (line !== '') {
        throw malformed(what, 'text outside a BEGIN/END CERTIFICATE block');
      }
    } else if (line === END) {
      certs.push(assertOneDerSequence(decodeBase64Strict(body.join(''), what), what));
      body = null;
    } else if (BASE64_LINE.test(line)) {
      body.push(line);
    } else {
      throw malformed(what, 'invalid line inside a PEM block');
    }
  }
  if (body !== null) throw malformed(what, 'PEM block without END line');
  if (certs.length === 0) throw malformed(what, 'no PEM certificate');
  return certs;
}
