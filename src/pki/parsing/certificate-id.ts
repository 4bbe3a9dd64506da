// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { decodeName } from './dn.js';
import { BoundedMap } from '../../util/bounded-map.js';

/**
 * The two ways an operator names a certificate — its SHA-256, or its issuer DN and serial (what a
 * CRL lists) — in the one spelling certgate stores and compares. Pure; undefined = not valid.
 */

/** Lowercase hex SHA-256; colons (as `openssl x509 -fingerprint -sha256` prints) are allowed. */
export function normalizeSha256(input: string): string | undefined {
  const hex = input.trim().replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/**
 * A serial as ParsedCert.serial spells it: lowercase hex without leading zero octets. Colons are
 * allowed; at most 64 hex digits (RFC 5280 allows 20 octets; some CAs exceed it slightly).
 */
export function normalizeSerial(input: string): string | undefined {
  let hex = input.trim().replace(/:/g, '').toLowerCase();
  if (hex.startsWith('0x')) hex = hex.slice(2);
  if (!/^[0-9a-f]{1,64}$/.test(hex)) return undefined;
  if (hex.length % 2) hex = '0' + hex;
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

/** An encoded Name rendered exactly as ParsedCert.issuer / .subject render it. */
export function dnText(nameDer: Uint8Array): string {
  return decodeName(nameDer)?.text ?? new x509.Name(new Uint8Array(nameDer)).toString();
}

/**
 * An issuer DN as an operator types it, in certgate's rendering (attributes in encoded order,
 * `, ` between them — the `issuer` certgate logs and `check-cert` prints). @peculiar/x509's parser
 * silently drops what it does not understand (`garbage` parses as an empty name, ` CN = x` loses
 * the CN), so the input must re-render to itself, modulo spaces after commas.
 */
export function normalizeIssuer(input: string): string | undefined {
  const text = input.trim();
  if (text === '' || text.length > 4096) return undefined;
  let rendered: string;
  try {
    rendered = dnText(new Uint8Array(new x509.Name(text).toArrayBuffer()));
  } catch {
    return undefined;
  }
  const spaced = (s: string) => s.replace(/(?<!\\),\s*/g, ', ');
  return rendered !== '' && spaced(text) === rendered ? rendered : undefined;
}

/**
 * Fixed-length key for an (issuer, serial) pair: store keys must not carry arbitrary DN text.
 * A login names it twice (the pair's index and its marker), and workloads log in with the same
 * certificate again and again: the last pairs' keys are remembered (a pure function of the pair).
 */
export function issuerSerialKey(issuer: string, serial: string): string {
  const pair = `${issuer}\n${serial}`;
  let key = pairKeys.get(pair);
  if (key === undefined) {
    key = createHash('sha256').update(pair).digest('hex');
    pairKeys.set(pair, key);
  }
  return key;
}
const pairKeys = new BoundedMap<string, string>(1024);
