import { createHash, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Header values captured from real terminators (nginx, HAProxy, Apache, Caddy) or computed from
 * documented encodings (the rest), copied from the team's reference set; see samples/README.md.
 */
const DIR = fileURLToPath(new URL('../fixtures/samples/', import.meta.url));

export const sampleNames = (): string[] => readdirSync(DIR).filter((n) => n !== 'README.md').sort();

/** A `.value` file: one header value byte for byte, as Node would hand it over (latin1). */
export const sampleValue = (name: string): string => readFileSync(DIR + name, 'latin1');

/**
 * A `.headers` file as Node's `headersDistinct` would present it: lower-case names, values with
 * surrounding SP/HTAB trimmed (llhttp does that), one array entry per line.
 */
export function sampleHeaders(name: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of readFileSync(DIR + name, 'latin1').split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const key = line.slice(0, colon).toLowerCase();
    (out[key] ??= []).push(line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  return out;
}

/** The single value of `header` in a `.headers` sample. */
export function sampleHeader(file: string, header: string): string {
  const v = sampleHeaders(file)[header.toLowerCase()];
  if (!v || v.length !== 1) throw new Error(`${file} has no single ${header}`);
  return v[0]!;
}

/** DER via Node's own X.509 parser, independent of the code under test. */
const derOfPem = (name: string): Uint8Array => new Uint8Array(new X509Certificate(readFileSync(DIR + name)).raw);

export const LEAF_SHA256 = '2dd27c2b68b613ebe8979e9c8ff639c912b25dfdab27abf9e95a830da362721d';
export const LEAF_DER = new Uint8Array(readFileSync(DIR + 'cert-client.der'));
export const INTERMEDIATE_DER = derOfPem('cert-intermediate.pem');
export const ROOT_DER = derOfPem('cert-ca.pem');
export const ROGUE_DER = derOfPem('cert-rogue.pem');

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** DER TLV with a minimal-length header, for building structures in tests. */
export function tlv(tag: number, content: Uint8Array | number[]): Uint8Array {
  const body = Uint8Array.from(content);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Uint8Array.from([tag, ...len, ...body]);
}

export const concatBytes = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
