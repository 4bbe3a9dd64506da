import { createHash, timingSafeEqual } from 'node:crypto';
import { percentDecode, UNRESERVED } from '../encoding.js';
import { parsePemCertificates } from '../pem.js';
import { malformed, xfccHashMismatch } from '../refusals.js';
import { parseXfcc } from '../xfcc.js';
import type { FormatDecoder } from './format-decoder.js';

const WHAT = 'x-forwarded-client-cert';

/**
 * Envoy/Istio XFCC. Each proxy appends one element, so the LAST element is what our trusted
 * hop itself saw on its TLS connection; earlier elements are hearsay from hops we do not trust.
 *
 * - `Cert` (percent-escaped PEM, escaped like nginx: `\n`, space, `+ / =`) is the leaf.
 * - `Chain` (same encoding) is the whole presented chain INCLUDING the leaf. It must start with
 *   `Cert` when both are present; with `Chain` alone its first certificate is the leaf.
 * - An element without `Cert` and `Chain` (the Istio mesh-hop default: `By;Hash;Subject;URI`)
 *   carries nothing we can validate against an identity's CA: "no certificate" (null), never a
 *   login from a hash or a URI. In Istio behind an ingress gateway this means the sidecar must
 *   forward the gateway's element as the last one (forwardClientCertDetails: FORWARD_ONLY, or
 *   point certgate's trusted proxy at the gateway).
 * - `Hash`, when present, must be the hex SHA-256 of the leaf DER: 401 `xfcc_hash_mismatch`.
 * - A separate chain header makes no sense for XFCC; config compilation refuses it.
 */
function decodeXfcc(value: string): Uint8Array[] {
  const elements = parseXfcc(value);
  const last = elements[elements.length - 1]!;
  // An empty `Cert=""` says as little as an absent one.
  const cert = last.get('cert')?.[0] || undefined;
  const chain = last.get('chain')?.[0] || undefined;
  if (cert === undefined && chain === undefined) return [];

  const pem = (v: string, what: string) => parsePemCertificates(percentDecode(v, UNRESERVED, what), what);
  let certs: Uint8Array[];
  if (cert !== undefined) {
    const leaf = pem(cert, `${WHAT} Cert`);
    if (leaf.length !== 1) throw malformed(`${WHAT} Cert`, 'more than one certificate');
    certs = leaf;
    if (chain !== undefined) {
      const full = pem(chain, `${WHAT} Chain`);
      if (!Buffer.from(full[0]!).equals(leaf[0]!)) throw malformed(`${WHAT} Chain`, 'does not start with Cert');
      certs = [leaf[0]!, ...full.slice(1)];
    }
  } else {
    certs = pem(chain!, `${WHAT} Chain`);
  }

  const hash = last.get('hash')?.[0];
  if (hash !== undefined) {
    if (!/^[0-9A-Fa-f]{64}$/.test(hash)) throw malformed(`${WHAT} Hash`, 'not a hex SHA-256');
    const actual = createHash('sha256').update(certs[0]!).digest();
    if (!timingSafeEqual(actual, Buffer.from(hash, 'hex'))) throw xfccHashMismatch();
  }
  return certs;
}

export const envoyXfccDecoder: FormatDecoder = { value: decodeXfcc };
