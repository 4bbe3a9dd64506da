/**
 * SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md) and the typed
 * `SPIFFE:` patterns of `allowedSubjectAltNames`.
 *
 * An ID is `spiffe://` (lower case), a trust domain of [a-z0-9._-] (so no upper case, port,
 * userinfo or percent-encoding), and a path of `/segment`s of [A-Za-z0-9._-]: no empty segment,
 * no `.` or `..`, no trailing slash, no query or fragment. A workload's (leaf) ID has a non-empty
 * path. Anything else is not a SPIFFE ID and matches no SPIFFE pattern.
 */

/** The spec's limits: implementations must support 2048-byte IDs and 255-byte trust domains. */
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN = 255;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const PREFIX = 'spiffe://';

export interface SpiffeId {
  trustDomain: string;
  segments: string[];
}

const isDotSegment = (s: string) => s === '.' || s === '..';

/** The reason `raw` is not a workload SPIFFE ID, or the parsed ID. */
export function parseSpiffeId(raw: string): SpiffeId | string {
  if (!raw.startsWith(PREFIX)) return 'does not start with spiffe://';
  if (Buffer.byteLength(raw) > MAX_ID_BYTES) return `is longer than ${MAX_ID_BYTES} bytes`;
  const rest = raw.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (trustDomain === '') return 'has an empty trust domain';
  if (trustDomain.length > MAX_TRUST_DOMAIN) return `has a trust domain longer than ${MAX_TRUST_DOMAIN} characters`;
  if (!TRUST_DOMAIN.test(trustDomain)) return 'has a trust domain with characters outside [a-z0-9._-] (upper case, port, userinfo, percent-encoding)';
  if (slash < 0) return 'has no path (a trust domain ID names no workload)';
  const segments = rest.slice(slash + 1).split('/');
  for (const s of segments) {
    if (s === '') return 'has an empty path segment or a trailing slash';
    if (isDotSegment(s)) return 'has a dot segment';
    if (!SEGMENT.test(s)) return 'has a path segment with characters outside [A-Za-z0-9._-] (query, fragment, percent-encoding)';
  }
  return { trustDomain, segments };
}

export type SpiffeMatcher = (uri: string) => boolean;

/**
 * Compiles the body of a `SPIFFE:` pattern: a SPIFFE ID whose path segments may also be `*`
 * (exactly one segment) or, as the last one, `**` (one or more segments: the rest of the path).
 * The trust domain is matched exactly; literal segments exactly, case included. Wildcards only
 * ever stand for whole, valid segments, so they never match a dot segment or an empty one.
 * Throws with the reason for a pattern that is not of that form.
 */
export function compileSpiffePattern(pattern: string): SpiffeMatcher {
  const fail = (why: string) => new Error(`SPIFFE pattern ${JSON.stringify(pattern)} ${why}; the trust domain is exact, * stands for one path segment, ** for the rest`);
  if (!pattern.startsWith(PREFIX)) throw fail('does not start with spiffe://');
  const slash = pattern.indexOf('/', PREFIX.length);
  // Validate with each whole-segment wildcard replaced by a valid segment; wildcards anywhere
  // else (in the trust domain, inside a segment) are then refused as invalid characters.
  const elements = slash < 0 ? [] : pattern.slice(slash + 1).split('/');
  const parsed = parseSpiffeId((slash < 0 ? pattern : pattern.slice(0, slash)) + elements.map((e) => '/' + (e === '*' || e === '**' ? 'x' : e)).join(''));
  if (typeof parsed === 'string') throw fail(parsed);
  const rest = elements.indexOf('**');
  if (rest >= 0 && rest !== elements.length - 1) throw fail('has ** before its last path segment');
  const { trustDomain } = parsed;
  return (uri) => {
    const id = parseSpiffeId(uri);
    if (typeof id === 'string' || id.trustDomain !== trustDomain) return false;
    if (rest >= 0 ? id.segments.length < elements.length : id.segments.length !== elements.length) return false;
    return elements.every((e, i) => e === '**' || e === '*' || e === id.segments[i]);
  };
}

/** True when a URI's path (before any query or fragment) has a `.` or `..` segment, also percent-encoded. */
export function hasDotSegment(uri: string): boolean {
  const path = uri.split(/[?#]/, 1)[0]!;
  return path.split('/').some((seg) => isDotSegment(seg.replace(/%2e/gi, '.')));
}
