import { mkdirSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';

/** The only algorithm certgate signs with, and therefore the only one it accepts. */
export const SIGNING_ALG = 'ES256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  createdAt: number;
}

/**
 * Signing keys live as JWK files (`<kid>.jwk.json`, mode 0600) in `keys.dir`. The newest signs;
 * all are published in the JWKS so tokens signed before a rotation keep verifying, and so
 * downstreams that never refetch on an unknown kid (le-cert-server) see a new key before use.
 */
export class KeyRing {
  private constructor(
    readonly keys: SigningKey[],
    readonly dir: string,
  ) {}

  get active(): SigningKey {
    return this.keys[0]!;
  }

  byKid(kid: string): SigningKey | undefined {
    return this.keys.find((k) => k.kid === kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** Loads every key in `dir`; generates a first one when there is none. */
  static async open(dir: string): Promise<KeyRing> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let files = readdirSync(dir).filter((f) => f.endsWith('.jwk.json'));
    if (files.length === 0) {
      await KeyRing.generate(dir);
      files = readdirSync(dir).filter((f) => f.endsWith('.jwk.json'));
    }
    const keys = await Promise.all(files.map((f) => loadKey(join(dir, f))));
    keys.sort((a, b) => b.createdAt - a.createdAt || a.kid.localeCompare(b.kid));
    return new KeyRing(keys, dir);
  }

  /** Writes a new ES256 key to `dir` and returns its kid. It signs from the next start on. */
  static async generate(dir: string, now = Date.now()): Promise<string> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(jwk);
    const file = join(dir, `${kid}.jwk.json`);
    writeFileSync(file, JSON.stringify({ ...jwk, kid, alg: SIGNING_ALG, use: 'sig', created_at: Math.floor(now / 1000) }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    return kid;
  }
}

async function loadKey(file: string): Promise<SigningKey> {
  let jwk: JWK & { created_at?: number };
  try {
    jwk = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read signing key ${file}: ${(e as Error).message}`);
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) throw new Error(`signing key ${file} is not an EC P-256 private JWK`);
  const { d: _d, created_at, ...pub } = jwk;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(pub));
  const publicJwk: JWK = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: SIGNING_ALG, use: 'sig' };
  return {
    kid,
    privateKey: (await importJWK({ ...jwk, alg: SIGNING_ALG }, SIGNING_ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, SIGNING_ALG)) as CryptoKey,
    publicJwk,
    createdAt: (created_at ?? 0) * 1000,
  };
}
