/**
 * Writes tokens exactly as the previous key layout did (one `{identityId}` slot per identity, a
 * jti → identity index), with that version's own put and revoke-all scripts (test/store/legacy/),
 * so the rolling-upgrade promise — tokens issued before the upgrade keep working until they
 * expire — is tested against the real old records, not a re-creation of them.
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { encodeRecord } from '../../src/store/record-codec.js';
import type { TokenRecord } from '../../src/store/types.js';

const lua = (name: string) => readFileSync(new URL(`./legacy/${name}.lua`, import.meta.url), 'utf8');
const PUT = lua('put');
const REVOKE_IDENTITY = lua('revoke-identity');

export const legacyKeys = (prefix = 'certgate:') => ({
  token: (identityId: string, jti: string) => `${prefix}token:{${identityId}}:${jti}`,
  revokedBefore: (identityId: string) => `${prefix}revoked-before:{${identityId}}`,
  identityOf: (jti: string) => `${prefix}token-identity:${jti}`,
  outstanding: (identityId: string) => `${prefix}outstanding:{${identityId}}`,
});

/** The old put: the jti index (SET NX), then put.lua with no deadline; throws unless it answered ok. */
export async function legacyPut(client: Redis | Cluster, record: TokenRecord, maxOutstanding = 0): Promise<void> {
  const k = legacyKeys();
  const maxExp = String(record.maxExpiresAt);
  await client.set(k.identityOf(record.jti), record.identityId, 'PXAT', maxExp, 'NX');
  const reply = (await client.eval(PUT, 2, k.token(record.identityId, record.jti), k.outstanding(record.identityId), maxExp, '0', String(maxOutstanding), String(record.createdAt), String(record.expiresAt), record.jti, ...encodeRecord(record))) as unknown[];
  if (reply[0] !== 'ok') throw new Error(`legacy put answered ${String(reply[0])}`);
}

/** The old revoke-all (a gateway not yet upgraded): its watermark and the outstanding set, in the home slot. */
export async function legacyRevokeIdentity(client: Redis | Cluster, identityId: string): Promise<void> {
  const k = legacyKeys();
  await client.eval(REVOKE_IDENTITY, 2, k.revokedBefore(identityId), k.outstanding(identityId));
}
