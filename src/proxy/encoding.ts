import { MAX_CHAIN_LENGTH } from './types.js';
import { malformed } from './refusals.js';

/**
 * Text-level helpers shared by the decoders. Everything is strict on purpose: a value that a
 * terminator could not have produced is refused rather than "repaired", because repairing is
 * how form-decoding turned ALB's raw `+` into a space and corrupted certificates elsewhere.
 */

/** Leaf + a full chain: the most certificates one header may carry before we stop splitting. */
export const MAX_CERTS_IN_ONE_HEADER = MAX_CHAIN_LENGTH + 1;

const isOws = (c: number) => c === 0x20 || c === 0x09;

/**
 * RFC 9110 optional whitespace (SP / HTAB) around a field value is not part of it. A loop, not
 * `/[ \t]+$/`: that regex backtracks quadratically on a long run of spaces followed by a
 * non-space (0.7 s for one 32 KiB header).
 */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

/**
 * Values that mean "no certificate": empty (HAProxy, Apache escape, header dropped for size),
 * `(null)` (Apache), `-` (nginx/Apache log-style empties) and a literal, unexpanded Caddy
 * placeholder (`{http.request.tls.client…}`, Caddy < 2.11.2 when no cert was presented).
 */
export function isAbsentValue(trimmed: string): boolean {
  return trimmed === '' || trimmed === '(null)' || trimmed === '-' || /^\{http\.request\.[^{}]*\}$/.test(trimmed);
}

const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Standard-alphabet base64 with padding, and canonical: Node's decoder silently skips bad
 * characters and ignores stray bits, so we re-encode and compare. Returns a fresh Uint8Array
 * (never a view into Node's shared Buffer pool, which a cached certificate would pin).
 */
export function decodeBase64Strict(text: string, what: string): Uint8Array {
  if (text.length === 0) throw malformed(what, 'empty base64');
  if (text.length % 4 !== 0 || !BASE64_SHAPE.test(text)) throw malformed(what, 'not standard padded base64');
  const buf = Buffer.from(text, 'base64');
  if (buf.toString('base64') !== text) throw malformed(what, 'non-canonical base64');
  return new Uint8Array(buf);
}

/** A set of ASCII characters allowed to appear unescaped in a percent-encoded value. */
export type RawCharSet = ReadonlySet<number>;

const charSet = (chars: string): RawCharSet => new Set([...chars].map((c) => c.charCodeAt(0)));
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** RFC 3986 unreserved: what nginx, Envoy and Go's QueryEscape leave raw. */
export const UNRESERVED = charSet(`${ALNUM}-._~`);
/** ALB and Apache `%{escape:…}` additionally leave the base64 characters `+ / =` raw. */
export const UNRESERVED_AND_BASE64 = charSet(`${ALNUM}-._~+/=`);

const hexValue = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

/**
 * RFC 3986 percent-decoding (upper or lower hex, `+` stays `+`: never form-decoding). Every
 * unescaped character must be in `raw`: a raw newline or space means the value was not produced
 * by the escaping terminator (e.g. nginx's unescaped `$ssl_client_cert`). Returns a latin1
 * string (one char per decoded byte); the PEM parser rejects anything non-ASCII.
 */
export function percentDecode(value: string, raw: RawCharSet, what: string): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hi = hexValue(value.charCodeAt(i + 1));
      const lo = hexValue(value.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw malformed(what, `invalid percent-escape at offset ${i}`);
      out += value.slice(runStart, i) + String.fromCharCode(hi * 16 + lo);
      i += 2;
      runStart = i + 1;
    } else if (!raw.has(c)) {
      throw malformed(what, `unexpected unescaped character at offset ${i}`);
    }
  }
  return out + value.slice(runStart);
}
