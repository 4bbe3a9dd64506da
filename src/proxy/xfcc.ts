import { malformed } from './refusals.js';

/**
 * Envoy's `x-forwarded-client-cert`, parsed as a grammar rather than by splitting:
 *
 *   xfcc    = element *( OWS "," OWS element )
 *   element = pair *( ";" pair )
 *   pair    = key "=" value
 *   key     = ALPHA *( ALPHA / DIGIT / "-" / "_" )          ; case-insensitive
 *   value   = quoted / *( any char but "," ";" DQUOTE )     ; may contain "="
 *   quoted  = DQUOTE *( char / "\" char ) DQUOTE            ; "," and ";" are data here
 *
 * In a quoted value `\"` and `\\` unescape to `"` and `\`; any other `\x` is kept as is, so an
 * RFC 4514 Subject like `O=Example\, Inc.` survives. Naive `split(',')` / `split(';')` lets a
 * client-influenced value (a SAN with `,`, a Subject with `\"`) start a forged element; here a
 * separator only counts outside quotes, and a quote may only open a value and close it right
 * before a separator or the end.
 *
 * `By`, `Hash`, `Cert`, `Chain` and `Subject` appear at most once per element (a repeat is a
 * sign of injection, refused); `URI` and `DNS` repeat legitimately, one pair per SAN.
 */
export type XfccElement = Map<string, string[]>;

const SINGLE_VALUED = new Set(['by', 'hash', 'cert', 'chain', 'subject']);
const KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
const WHAT = 'x-forwarded-client-cert';

export function parseXfcc(header: string): XfccElement[] {
  const elements: XfccElement[] = [];
  let pos = 0;
  let element: XfccElement = new Map();

  for (;;) {
    const eq = header.indexOf('=', pos);
    const key = eq < 0 ? '' : header.slice(pos, eq);
    if (!KEY.test(key)) throw malformed(WHAT, `expected Key= at offset ${pos}`);
    pos = eq + 1;

    let value: string;
    if (header[pos] === '"') {
      value = '';
      pos++;
      for (;;) {
        if (pos >= header.length) throw malformed(WHAT, 'unterminated quoted value');
        const c = header[pos]!;
        if (c === '"') break;
        if (c === '\\') {
          const next = header[pos + 1];
          if (next === undefined) throw malformed(WHAT, 'unterminated quoted value');
          value += next === '"' || next === '\\' ? next : c + next;
          pos += 2;
        } else {
          value += c;
          pos++;
        }
      }
      pos++; // closing quote
      if (pos < header.length && header[pos] !== ';' && header[pos] !== ',') {
        throw malformed(WHAT, `unexpected character after a quoted value at offset ${pos}`);
      }
    } else {
      const start = pos;
      while (pos < header.length && header[pos] !== ';' && header[pos] !== ',') {
        if (header[pos] === '"') throw malformed(WHAT, `quote inside an unquoted value at offset ${pos}`);
        pos++;
      }
      value = header.slice(start, pos);
    }

    const name = key.toLowerCase();
    const values = element.get(name);
    if (values && SINGLE_VALUED.has(name)) throw malformed(WHAT, `${key} repeated in one element`);
    if (values) values.push(value);
    else element.set(name, [value]);

    if (pos >= header.length) break;
    if (header[pos] === ';') {
      pos++;
      continue;
    }
    // ',' — the element ends; list syntax allows OWS after the comma.
    elements.push(element);
    element = new Map();
    pos++;
    while (header[pos] === ' ' || header[pos] === '\t') pos++;
  }
  elements.push(element);
  return elements;
}
