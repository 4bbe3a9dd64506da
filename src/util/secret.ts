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

export const secretMatches = (presented: string, secrets: readonly string[]): boolean => secretIndex(presented, secrets) >= 0;
