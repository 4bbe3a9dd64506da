import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { mintCertificate, type MintedCert } from '../../src/pki/mint.js';
import { MAX_CHAIN_LENGTH } from '../../src/proxy/types.js';

const subtle = (webcrypto as unknown as Crypto).subtle;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

/**
 * The most expensive chain a client can present (issue 7, defect 2): a leaf whose issuer DN is
 * shared by MAX_CHAIN_LENGTH self-issued CA certificates, so every one of them is a candidate
 * issuer of the leaf and of each other.
 * - `sane` of them (default 8) carry the costliest key certgate accepts: RSA-8192 with e = 2^31 - 1 (a fixture
 *   key: generating one takes seconds). They all hold the same key, so every signature between
 *   them verifies and the depth-first search can go everywhere.
 * - the rest carry RSA keys with a 201-bit public exponent (the review's ~7 ms per verification):
 *   certgate must refuse those keys before verifying anything with them.
 * No AKI/SKI ordering helps: the CAs are self-issued (no AKI needed) and the leaf's AKI matches
 * every RSA-8192 one alike.
 */
export interface HostileChain {
  leaf: MintedCert;
  /** The presented chain, leaf excluded (MAX_CHAIN_LENGTH certificates unless `total` says otherwise). */
  chain: MintedCert[];
  saneCount: number;
}

export const HOSTILE_CA_NAME = 'CN=Evil CA, O=attacker';

async function rsa8192(): Promise<CryptoKeyPair> {
  const pem = readFileSync(new URL('../fixtures/keys/rsa-8192-e2147483647.pem', import.meta.url), 'utf8');
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const publicJwk = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' });
  return {
    privateKey: await subtle.importKey('jwk', jwk, RSA, true, ['sign']),
    publicKey: await subtle.importKey('jwk', publicJwk, RSA, true, ['verify']),
  };
}

/** A public key with a huge exponent (its private half is never needed: it only sits in a certificate). */
async function hugeExponentKey(): Promise<CryptoKeyPair> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  jwk.e = Buffer.from(((1n << 200n) + 1n).toString(16).padStart(52, '0'), 'hex').toString('base64url');
  return {
    publicKey: await subtle.importKey('jwk', jwk, RSA, true, ['verify']),
    privateKey: await subtle.importKey('jwk', privateKey.export({ format: 'jwk' }), RSA, true, ['sign']),
  };
}

export async function hostileChain(opts: { leafCn?: string; sane?: number; total?: number } = {}): Promise<HostileChain> {
  const saneCount = opts.sane ?? 8;
  const attacker = await rsa8192();
  // The leaf names the attacker key as its authority (RFC 5280 requires the AKI): it ranks nothing
  // here, since every candidate CA carries that same key identifier or a useless one.
  const authorityKeyId = (await mintCertificate({ subject: HOSTILE_CA_NAME, keys: attacker, ca: true })).cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  const common = { ca: true, issuerName: HOSTILE_CA_NAME, signWith: attacker.privateKey } as const;
  const chain: MintedCert[] = [];
  for (let i = 0; i < saneCount; i++) chain.push(await mintCertificate({ ...common, subject: HOSTILE_CA_NAME, keys: attacker }));
  for (let i = saneCount; i < (opts.total ?? MAX_CHAIN_LENGTH); i++) chain.push(await mintCertificate({ ...common, subject: HOSTILE_CA_NAME, keys: await hugeExponentKey() }));
  const leaf = await mintCertificate({ subject: `CN=${opts.leafCn ?? 'agent-1'}`, issuerName: HOSTILE_CA_NAME, signWith: attacker.privateKey, authorityKeyId });
  return { leaf, chain, saneCount };
}
