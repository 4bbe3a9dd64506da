import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { KEY_ALGORITHMS, parseKeyFile, writeNewKey } from '../../src/token/key-file.js';
import { signToken, type AccessClaims } from '../../src/token/jwt.js';
import { makeTempDir } from '../helpers/launcher.js';

/**
 * signToken makes its JWS with node:crypto (not jose's SignJWT): the tokens must be exactly what
 * jose would make, and verify with jose pinned to the key's algorithm, for every algorithm.
 */
describe('signToken', () => {
  const claims: AccessClaims = {
    iss: 'https://certgate.test', aud: 'certgate', sub: 'agents', jti: 'a1b2', iat: 1_800_000_000, nbf: 1_800_000_000, exp: 1_800_000_600,
    scope: 'certificates:request', cnf: { 'x5t#S256': 'abc' }, subject: 'CN=agent-1, O=Ünïcode',
  } as AccessClaims;

  for (const alg of KEY_ALGORITHMS) {
    it(`${alg}: verifies with jose pinned to ${alg}, with jose's own header and payload bytes`, async () => {
      const dir = makeTempDir('certgate-sign-');
      const kid = await writeNewKey(dir, alg, Date.now(), Date.now());
      const key = await parseKeyFile(readFileSync(join(dir, `${kid}.jwk.json`), 'utf8'));
      const token = await signToken(claims, key);
      const { payload, protectedHeader } = await jwtVerify(token, key.publicKey, { algorithms: [alg], typ: 'at+jwt', currentDate: new Date(1_800_000_100_000) });
      expect(protectedHeader).toEqual({ alg, kid: key.kid, typ: 'at+jwt' });
      expect(payload).toEqual(claims);
      const theirs = await new SignJWT(claims).setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
      expect(token.split('.').slice(0, 2)).toEqual(theirs.split('.').slice(0, 2));
      // Another algorithm's verifier refuses it (the algorithm is pinned per key).
      const other = KEY_ALGORITHMS.find((a) => a !== alg)!;
      await expect(compactVerify(token, key.publicKey, { algorithms: [other] })).rejects.toThrow();
      expect(decodeProtectedHeader(token).alg).toBe(alg);
    });
  }
});
