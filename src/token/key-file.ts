import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, CompactSign, compactVerify, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** The algorithms certgate signs with. Each key is pinned to exactly one of them. */
export const KEY_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** The smallest RSA modulus accepted, in bits. */
const MIN_RSA_BITS = 2048;

/** A key file name: `<kid>.jwk.json`. Dot files (temporary writes, Kubernetes' `..data`) are not keys. */
export const isKeyFileName = (name: string) => name.endsWith('.jwk.json') && !name.startsWith('.');

export interface SigningKey {
  kid: string;
  alg: KeyAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK as published: kty and key material, kid, alg, use. Never `d`. */
  publicJwk: JWK;
  /** When the key was written (ms). */
  createdAt: number;
  /** When it may start signing (ms): created + keys.publishBefore at rotate time. */
  activatesAt: number;
}

/** The fields certgate adds to the JWK in a key file, in seconds since the epoch. */
interface KeyFileJwk extends JWK {
  created_at?: number;
  activates_at?: number;
}

/**
 * Generates a key of `alg` and writes it to `dir/<kid>.jwk.json` (mode 0600), through a dot-named
 * temporary file and a rename, so a gateway reading the directory never sees half a key.
 */
export async function writeNewKey(dir: string, alg: KeyAlgorithm, createdAtMs: number, activatesAtMs: number): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: MIN_RSA_BITS } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const doc: KeyFileJwk = { ...jwk, kid, alg, use: 'sig', created_at: Math.floor(createdAtMs / 1000), activates_at: Math.floor(activatesAtMs / 1000) };
  const file = join(dir, `${kid}.jwk.json`);
  const tmp = join(dir, `.${kid}.jwk.json.tmp`);
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return kid;
}

/** The algorithm a JWK's key type implies; files written before `alg` was recorded are ES256. */
function algorithmOf(jwk: JWK): KeyAlgorithm | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  return undefined;
}

/** The public members of each key type: what the JWKS carries. */
const PUBLIC_MEMBERS: Record<KeyAlgorithm, string[]> = { ES256: ['kty', 'crv', 'x', 'y'], EdDSA: ['kty', 'crv', 'x'], RS256: ['kty', 'n', 'e'] };

/**
 * Parses and checks one key file's text. Throws an Error whose message says what is wrong (never
 * any key material). The private half must match the public half: a key that signs tokens nobody
 * can verify would be worse than no key, so a one-byte sign/verify proves the pair.
 */
export async function parseKeyFile(text: string): Promise<SigningKey> {
  let jwk: KeyFileJwk;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Error('not a JWK object');
  const alg = algorithmOf(jwk);
  if (!alg) throw new Error(`not a signing key certgate uses (kty ${String(jwk.kty)}${jwk.crv ? ` crv ${String(jwk.crv)}` : ''}; expected EC P-256, OKP Ed25519 or RSA)`);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error(`alg ${String(jwk.alg)} does not fit its key type (expected ${alg})`);
  if (typeof jwk.d !== 'string') throw new Error('holds no private key (d)');
  if (alg === 'RS256' && Buffer.from(String(jwk.n ?? ''), 'base64url').length * 8 < MIN_RSA_BITS) throw new Error(`RSA modulus shorter than ${MIN_RSA_BITS} bits`);
  const pub: JWK = Object.fromEntries(PUBLIC_MEMBERS[alg].map((m) => [m, (jwk as Record<string, unknown>)[m]]));
  const thumbprint = await calculateJwkThumbprint(pub).catch(() => {
    throw new Error('incomplete public key');
  });
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') throw new Error('kid is not a string');
  const kid = jwk.kid ?? thumbprint;
  const createdAt = seconds(jwk.created_at, 'created_at') ?? 0;
  // Files from before activation times were recorded signed from their creation on.
  const activatesAt = seconds(jwk.activates_at, 'activates_at') ?? createdAt;
  const publicJwk: JWK = { ...pub, kid, alg, use: 'sig' };
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = (await importJWK({ ...jwk, alg }, alg)) as CryptoKey;
    publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
    const probe = await new CompactSign(new Uint8Array([1])).setProtectedHeader({ alg }).sign(privateKey);
    await compactVerify(probe, publicKey, { algorithms: [alg] });
  } catch {
    throw new Error('its private and public parts do not form a working key pair');
  }
  return { kid, alg, privateKey, publicKey, publicJwk, createdAt: createdAt * 1000, activatesAt: activatesAt * 1000 };
}

function seconds(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${name} is not a time in seconds`);
  return v;
}
