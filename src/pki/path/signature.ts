import { X509Certificate as NativeCert, verify, type KeyObject } from 'node:crypto';
import { bytesEqual, readChildren, readNode } from '../parsing/der.js';
import { SIGNATURE_ALGORITHMS } from '../parsing/extension-oids.js';
import { publicKeyObject } from '../parsing/public-key.js';
import type { ParsedCert } from '../parsing/certificate.js';

/*
 * A certificate's signature, checked without an OpenSSL certificate object for the child: building
 * one costs ~175 µs per leaf, twice the signature check itself. The result is OpenSSL's X509_verify,
 * which for the common algorithms is exactly: the outer and TBS signature AlgorithmIdentifiers are
 * identical, the signature BIT STRING has no unused bits, the key is of the algorithm's type, and the
 * digest-and-verify over the TBS bytes as sent succeeds. Those cases are checked here with
 * node:crypto over the same bytes; every other case (RSASSA-PSS, parameters where none belong, a
 * mismatch) is left to OpenSSL's certificate object, so no verdict can differ.
 * test/pki/path/signature.test.ts compares both over valid and tampered certificates.
 */

const NO_PARAMS_KINDS = new Set(['ecdsa', 'ed25519']);
const NULL_PARAMS = Uint8Array.of(0x05, 0x00);
const KEY_TYPE = { rsa: 'rsa', ecdsa: 'ec', ed25519: 'ed25519' } as const;

/** The child's signed parts when its signature is of the common kind checked here, else undefined. */
function signedParts(child: ParsedCert) {
  const alg = SIGNATURE_ALGORITHMS[child.signatureAlgorithm];
  if (!alg || alg.kind === 'pss') return undefined;
  const params = child.signatureParams;
  if (NO_PARAMS_KINDS.has(alg.kind) ? params !== undefined : params !== undefined && !bytesEqual(params, NULL_PARAMS)) return undefined;
  const [tbs, outerAlg, sig] = readChildren(readNode(child.der).node.value);
  const innerAlg = readChildren(tbs!.value).find((f) => f.tag === 0x30);
  if (!innerAlg || !bytesEqual(innerAlg.raw, outerAlg!.raw) || sig!.value[0] !== 0) return undefined;
  return { tbs: tbs!.raw, signature: sig!.value.subarray(1), hash: 'hash' in alg ? alg.hash : null, keyType: KEY_TYPE[alg.kind] };
}

/** The signed parts when node:crypto can check them under `key` exactly as OpenSSL would. */
function directParts(child: ParsedCert, key: KeyObject) {
  const parts = signedParts(child);
  return parts && key.asymmetricKeyType === parts.keyType ? parts : undefined;
}

/** Whether `issuer`'s key verifies `child`'s signature; an unreadable key or signature is false. */
export function verifiesWith(child: ParsedCert, issuer: ParsedCert): boolean {
  try {
    const key = publicKeyObject(issuer);
    const parts = directParts(child, key);
    // Anything else: OpenSSL's verdict through its certificate object, as before.
    if (!parts) return new NativeCert(child.der).verify(key);
    return verify(parts.hash, parts.tbs, key, parts.signature);
  } catch {
    return false;
  }
}

/** Whether verifiesWith checks this pair with node:crypto directly (for tests). */
export function directlyVerifiable(child: ParsedCert, issuer: ParsedCert): boolean {
  try {
    return directParts(child, publicKeyObject(issuer)) !== undefined;
  } catch {
    return false;
  }
}
