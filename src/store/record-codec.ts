import type { TokenRecord } from './types.js';

/**
 * TokenRecord <-> flat Redis hash. Numbers are written with String() (integers stay exact) and
 * the Lua scripts never re-format them; arrays are JSON; `revoked` is '0' / '1' (Lua compares it).
 */
export function encodeRecord(rec: TokenRecord): string[] {
  for (const k of ['createdAt', 'expiresAt', 'maxExpiresAt', 'usesLimit', 'usesRemaining'] as const) {
    if (!Number.isSafeInteger(rec[k])) throw new Error(`token record: ${k} must be an integer, got ${rec[k]}`);
  }
  return [
    'jti', rec.jti,
    'identityId', rec.identityId,
    'subject', rec.subject,
    'scopes', JSON.stringify(rec.scopes),
    'createdAt', String(rec.createdAt),
    'expiresAt', String(rec.expiresAt),
    'maxExpiresAt', String(rec.maxExpiresAt),
    'usesLimit', String(rec.usesLimit),
    'usesRemaining', String(rec.usesRemaining),
    'trustedIps', JSON.stringify(rec.trustedIps),
    'certSha256', rec.certSha256,
    'revoked', rec.revoked ? '1' : '0',
    ...(rec.certClaims && Object.keys(rec.certClaims).length > 0 ? ['certClaims', JSON.stringify(rec.certClaims)] : []),
    ...(rec.certIssuer !== undefined ? ['certIssuer', rec.certIssuer] : []),
    ...(rec.certSerial !== undefined ? ['certSerial', rec.certSerial] : []),
  ];
}

/** Reads HGETALL's flat [field, value, …] reply as written by encodeRecord. */
export function decodeRecord(flat: unknown): TokenRecord {
  if (!Array.isArray(flat)) throw new Error('token record: unexpected reply shape');
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) h.set(String(flat[i]), String(flat[i + 1]));
  const str = (k: string): string => {
    const v = h.get(k);
    if (v === undefined) throw new Error(`token record: field ${k} missing`);
    return v;
  };
  const num = (k: string): number => Number(str(k));
  return {
    jti: str('jti'),
    identityId: str('identityId'),
    subject: str('subject'),
    scopes: JSON.parse(str('scopes')) as string[],
    createdAt: num('createdAt'),
    expiresAt: num('expiresAt'),
    maxExpiresAt: num('maxExpiresAt'),
    usesLimit: num('usesLimit'),
    usesRemaining: num('usesRemaining'),
    trustedIps: JSON.parse(str('trustedIps')) as string[],
    certSha256: str('certSha256'),
    revoked: str('revoked') === '1',
    ...(h.has('certClaims') ? { certClaims: JSON.parse(h.get('certClaims')!) as Record<string, string | string[]> } : {}),
    // Optional: records written before they existed have neither.
    ...(h.has('certIssuer') ? { certIssuer: h.get('certIssuer')! } : {}),
    ...(h.has('certSerial') ? { certSerial: h.get('certSerial')! } : {}),
  };
}
