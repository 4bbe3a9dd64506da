import { randomBytes, randomUUID } from 'node:crypto';
import type { CertificateInfo, TokenRecord, TokenStore } from '../../src/store/types.js';

/** Reaches the store's storage directly, bypassing every store method. */
export interface RawAccess {
  deleteRecord(identityId: string, jti: string): Promise<void>;
  recordExists(identityId: string, jti: string): Promise<boolean>;
}

export interface StoreUnderTest {
  store: TokenStore;
  raw: RawAccess;
}

/** Real "now": Redis expires keys by its own clock, so maxExpiresAt must lie in the real future. */
export const T0 = Date.now();

/** A fresh record with its own jti and identity, so tests never see each other's data. */
export function makeRecord(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    jti: randomUUID(),
    identityId: `id-${randomUUID().slice(0, 8)}`,
    subject: 'CN=agent-1,O=Example',
    scopes: ['certificates:request'],
    createdAt: T0,
    expiresAt: T0 + 60_000,
    maxExpiresAt: T0 + 3_600_000,
    usesLimit: 0,
    usesRemaining: 0,
    trustedIps: ['10.0.0.0/8', '::1/128'],
    certSha256: 'ab'.repeat(32),
    revoked: false,
    ...over,
  };
}

/** A record limited to `n` uses. */
export const limited = (n: number, over: Partial<TokenRecord> = {}) => makeRecord({ usesLimit: n, usesRemaining: n, ...over });

/** A certificate's index entry with its own SHA-256 and serial. */
export function makeCert(over: Partial<CertificateInfo> = {}): CertificateInfo {
  return {
    sha256: randomBytes(32).toString('hex'),
    issuer: 'CN=Test Intermediate A, O=certgate tests',
    serial: '5' + randomBytes(8).toString('hex'),
    notAfter: T0 + 2 * 3_600_000,
    path: [randomBytes(24).toString('base64'), randomBytes(24).toString('base64')],
    ...over,
  };
}
