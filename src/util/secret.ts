import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time membership test for configured secrets. Both sides are hashed first so the
 * comparison length never depends on the secret, and every candidate is compared (no early exit).
 */
export function secretMatches(presented: string, secrets: readonly string[]): boolean {
  const p = createHash('sha256').update(presented).digest();
  let ok = false;
  for (const s of secrets) {
    if (timingSafeEqual(p, createHash('sha256').update(s).digest())) ok = true;
  }
  return ok;
}
