import type { SigningKey } from './key-file.js';

/**
 * A key's place in its life:
 * - `next`: published in the JWKS, not signing yet (now < activatesAt);
 * - `active`: the newest activated key: it signs every token;
 * - `retiring`: superseded (stopped signing when a newer key activated) but still published,
 *   because tokens it signed may still be valid;
 * - `retired`: every token it can have signed has expired; it has left the JWKS.
 */
export type KeyState = 'next' | 'active' | 'retiring' | 'retired';

export interface KeyStatus {
  key: SigningKey;
  state: KeyState;
  /** When a newer key activated and this one stopped signing (ms); absent while it is next or active. */
  stoppedAt?: number;
  /** When it leaves (or left) the JWKS (ms): stoppedAt + LATE_READ_MS + the longest token lifetime. */
  retiresAt?: number;
}

export interface KeyView {
  /** Every key, ordered by activation (oldest first). */
  statuses: KeyStatus[];
  /** The signing key; undefined only when there is no key at all. */
  active: SigningKey | undefined;
  /** The next moment a state changes by time alone (ms); Infinity when none will. */
  changesAt: number;
}

/** The longest a gateway takes to read a new file in keys.dir (it re-reads every 5 s). */
export const LATE_READ_MS = 10_000;

const byActivation = (a: SigningKey, b: SigningKey) => a.activatesAt - b.activatesAt || a.createdAt - b.createdAt || a.kid.localeCompare(b.kid);

/**
 * The states of `keys` at `now`, computed from each key's own activation time, so every gateway
 * reading the same directory with the same clock reaches the same answer without talking to the
 * others.
 *
 * Why a key may retire at `stoppedAt + tokenLifetimeMs`: a key signs only while it is active, and
 * every token certgate signs expires at most `tokenLifetimeMs` after it was signed (login and
 * renew: exp ≤ now + accessTokenTTL ≤ now + accessTokenMaxTTL; upstream JWTs: exp ≤ now + ttl;
 * plus the verification clock skew). So the last token a key can have signed is signed just
 * before `stoppedAt` and is dead by `stoppedAt + tokenLifetimeMs`. Two things stretch "just
 * before": a gateway reads keys.dir only every few seconds (at most LATE_READ_MS after a file was
 * written), so with a publishBefore shorter than that it may read the new key after its
 * activation and sign with the old one until then; and a gateway whose clock lags signs with the
 * old key a little longer (the clock skew in tokenLifetimeMs covers that). So a key retires at
 * `stoppedAt + LATE_READ_MS + tokenLifetimeMs`.
 *
 * When no key has activated yet (only `next` keys, e.g. the active key's file was removed), the
 * soonest of them signs rather than refusing every login: it is already published.
 */
export function keyStates(keys: readonly SigningKey[], now: number, tokenLifetimeMs: number): KeyView {
  const ordered = [...keys].sort(byActivation);
  const activated = ordered.filter((k) => k.activatesAt <= now);
  const active = activated.at(-1) ?? ordered[0];
  let changesAt = Infinity;
  const statuses = ordered.map((key): KeyStatus => {
    if (key === active) return { key, state: 'active' };
    if (key.activatesAt > now) {
      changesAt = Math.min(changesAt, key.activatesAt);
      return { key, state: 'next' };
    }
    const successor = activated[activated.indexOf(key) + 1]!;
    const stoppedAt = successor.activatesAt;
    const retiresAt = stoppedAt + LATE_READ_MS + tokenLifetimeMs;
    if (now < retiresAt) {
      changesAt = Math.min(changesAt, retiresAt);
      return { key, state: 'retiring', stoppedAt, retiresAt };
    }
    return { key, state: 'retired', stoppedAt, retiresAt };
  });
  // The early-signing next key turns into the regular active one when it activates.
  if (active && active.activatesAt > now) changesAt = Math.min(changesAt, active.activatesAt);
  return { statuses, active, changesAt };
}

export const isPublished = (s: KeyStatus) => s.state !== 'retired';

/**
 * The longest a token signed now can stay valid, in seconds: the largest accessTokenMaxTTL of the
 * identities (an access token's exp is at most now + accessTokenTTL ≤ now + accessTokenMaxTTL,
 * at login and at renew alike), or of the routes' upstream JWTs, plus the verification clock skew.
 */
export function longestTokenLifetimeSec(
  config: { clockSkewSeconds: number; routes: readonly { upstreamAuth?: { type: string; ttl?: number } }[] },
  identities: readonly { accessTokenMaxTTL: number }[],
): number {
  const upstream = config.routes.map((r) => (r.upstreamAuth?.type === 'jwt' ? (r.upstreamAuth.ttl ?? 0) : 0));
  return Math.max(0, ...identities.map((i) => i.accessTokenMaxTTL), ...upstream) + config.clockSkewSeconds;
}
