import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time membership test for configured secrets. Both sides are hashed first so the
 * comparison length never depends on the secret, and every candidate is compared (no early exit).
 */
export function secretIndex(presented: string, secrets: readonly string[]): number {
  const p = createHash('sha256').update(presented).digest();
  let found = -1;
  secrets.forEach((s, i) => {
    if (timingSafeEqual(p, createHash('sha256').update(s).digest()) && found < 0) found = i;
  });
  return found;
}

/**
 * Constant-time membership test against SHA-256 digests of configured secrets (admin tokens may be
 * configured as `sha256:<hex>`, so only digests are compared). Every digest is compared.
 */
export function digestMatches(presented: string, digests: readonly Buffer[]): boolean {
  const p = createHash('sha256').update(presented).digest();
  let found = false;
  for (const d of digests) {
    if (d.length === p.length && timingSafeEqual(p, d)) found = true;
  }
  return found;
}

export const secretMatches = (presented: string, secrets: readonly string[]): boolean => secretIndex(presented, secrets) >= 0;
