import { decodeOid, readChildren, readNode, type DerNode } from './der.js';

/**
 * RSASSA-PSS-params (RFC 4055 section 3.1), for certificates (validate.ts) and OCSP answers
 * (ocsp.ts) alike. The algorithm identifier carries its own hash, so the sha1WithRSA ban means
 * nothing unless these parameters are checked too. Accepted, as Go's crypto/x509 and BoringSSL
 * accept them: hash SHA-256/384/512, MGF1 with that same hash, a salt as long as the hash, trailer
 * field 1. Absent parameters mean SHA-1 (the RFC's defaults) and are refused with it.
 */
export interface PssParams { hash: 'sha256' | 'sha384' | 'sha512'; saltLength: number }

const HASHES: Record<string, PssParams['hash'] | 'sha1'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const HASH_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;
const MGF1 = '1.2.840.113549.1.1.8';

/** AlgorithmIdentifier { OID, NULL or absent } -> the hash name ('?' when unknown). */
function hashOf(alg: DerNode | undefined): string {
  if (alg?.tag !== 0x30) throw new Error('hash AlgorithmIdentifier is not a SEQUENCE');
  const [id, params, ...rest] = readChildren(alg.value);
  if (id?.tag !== 0x06 || rest.length || (params && (params.tag !== 0x05 || params.value.length))) throw new Error('malformed hash AlgorithmIdentifier');
  return HASHES[decodeOid(id.value)] ?? '?';
}

/** Small non-negative INTEGER content (salt length, trailer field). */
function smallInt(n: DerNode | undefined): number {
  if (n?.tag !== 0x02 || n.value.length === 0 || n.value.length > 2 || n.value[0]! & 0x80) throw new Error('malformed INTEGER');
  return n.value.reduce((a, b) => a * 256 + b, 0);
}

/** The parameters, or throws an Error saying why they are not accepted. `params`: the element after the OID. */
export function readPssParams(params: DerNode | undefined): PssParams {
  if (params?.tag !== 0x30) throw new Error('RSASSA-PSS without parameters means SHA-1, which is not accepted');
  let hash = 'sha1';
  let mgf = 'sha1';
  let saltLength = 20;
  let trailer = 1;
  let last = -1;
  for (const field of readChildren(params.value)) {
    const slot = field.tag - 0xa0;
    // DER: [0]..[3] at most once each, in order.
    if (slot < 0 || slot > 3 || slot <= last) throw new Error('malformed RSASSA-PSS parameters');
    last = slot;
    const [inner, ...more] = readChildren(field.value);
    if (!inner || more.length) throw new Error('malformed RSASSA-PSS parameters');
    if (slot === 0) hash = hashOf(inner);
    else if (slot === 1) {
      if (inner.tag !== 0x30) throw new Error('malformed maskGenAlgorithm');
      const [id, mgfHash, ...rest] = readChildren(inner.value);
      if (id?.tag !== 0x06 || rest.length || decodeOid(id.value) !== MGF1) throw new Error('the mask generation function is not MGF1');
      mgf = hashOf(mgfHash);
    } else if (slot === 2) saltLength = smallInt(inner);
    else trailer = smallInt(inner);
  }
  if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512') throw new Error(`RSASSA-PSS with ${hash} is not accepted`);
  if (mgf !== hash) throw new Error(`RSASSA-PSS with MGF1/${mgf} and ${hash} is not accepted`);
  if (saltLength !== HASH_BYTES[hash]) throw new Error(`RSASSA-PSS/${hash} with a salt of ${saltLength} bytes is not accepted (the hash length is required)`);
  if (trailer !== 1) throw new Error('RSASSA-PSS trailer field other than 1');
  return { hash, saltLength };
}

/** Why the raw parameters element of an RSASSA-PSS AlgorithmIdentifier is refused, or undefined. */
export function pssProblem(paramsDer: Uint8Array | undefined): string | undefined {
  try {
    readPssParams(paramsDer ? readNode(paramsDer).node : undefined);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
