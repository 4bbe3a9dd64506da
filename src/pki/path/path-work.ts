import { certRefused } from '../../errors.js';
import type { ParsedCert, PublicKeyInfo } from '../parsing/certificate.js';

/**
 * The CPU budget of one login's path search, shared by every identity the login tries.
 *
 * Path search runs before authentication, on certificates the client chose: the number of
 * signature checks alone does not bound the work, because one RSA verification costs in proportion
 * to modulus bits² × exponent bits. So each verification is charged a cost by key (below) before it
 * runs, against one budget per request, and the whole login is refused with 401
 * `path_search_budget_exceeded` once a verification would overrun it. Results are memoised per
 * (certificate, issuer) pair for the request, so identities sharing a CA pay once.
 *
 * Cost unit: one RSA-2048 verification with e = 65537 (about 20 µs on one core of a 2024 server).
 * Measured ratios on Node 20 / OpenSSL 3: RSA-4096 ≈ 3, RSA-2048 with e = 2^31−1 ≈ 2,
 * ECDSA P-256 ≈ 3, P-384 ≈ 22, Ed25519 ≈ 4. RSA is charged by the formula, rounded up, so a
 * larger key or exponent is never cheaper than it really is.
 */
export const DEFAULT_PATH_WORK_UNITS = 1000;

const RSA_BASE_BITS = 2048;
const RSA_BASE_EXPONENT_BITS = 17; // 65537

/** Cost units of one signature verification with `key`; Infinity for keys that are never verified. */
export function verificationCost(key: PublicKeyInfo): number {
  switch (key.algorithm) {
    case 'rsa':
    case 'rsa-pss': {
      if (!key.bits || key.exponentBits === undefined) return Infinity;
      const size = key.bits / RSA_BASE_BITS;
      return Math.max(1, Math.ceil(size * size * (key.exponentBits / RSA_BASE_EXPONENT_BITS)));
    }
    case 'ec':
      return key.curve === 'P-256' ? 3 : key.curve === 'P-384' ? 22 : Infinity;
    case 'ed25519':
      return 4;
    default:
      return Infinity;
  }
}

export interface PathWorkOptions {
  /** Cost units one request may spend (DEFAULT_PATH_WORK_UNITS). */
  units?: number;
  /** Called after each verification actually run, with its cost (metrics, tests). */
  onVerify?: (cost: number) => void;
}

export class PathWork {
  readonly units: number;
  /** Cost units spent so far. */
  spent = 0;
  /** Verifications actually run (memoised answers are not counted). */
  verifications = 0;
  private readonly memo = new Map<string, boolean>();
  private readonly onVerify: ((cost: number) => void) | undefined;

  constructor(opts: PathWorkOptions = {}) {
    this.units = opts.units ?? DEFAULT_PATH_WORK_UNITS;
    this.onVerify = opts.onVerify;
  }

  /** Whether the request has already verified this pair (a memo hit costs nothing). */
  known(child: ParsedCert, issuer: ParsedCert): boolean {
    return this.memo.has(`${child.sha256}>${issuer.sha256}`);
  }

  /**
   * Whether `issuer`'s key verifies `child`'s signature. Charges the cost first and throws 401
   * `path_search_budget_exceeded` when the request cannot afford it: nothing over budget ever runs.
   */
  verify(child: ParsedCert, issuer: ParsedCert, run: () => boolean): boolean {
    const key = `${child.sha256}>${issuer.sha256}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const cost = verificationCost(issuer.publicKey);
    if (this.spent + cost > this.units) {
      throw certRefused('path_search_budget_exceeded', `certificate path search stopped: the presented certificates need more signature work than one login may spend (${this.units} units)`);
    }
    this.spent += cost;
    this.verifications++;
    const ok = run();
    this.memo.set(key, ok);
    this.onVerify?.(cost);
    return ok;
  }
}
