import { beforeAll, describe, expect, it } from 'vitest';
import { isCertgateError } from '../../../src/errors.js';
import { parseCertificate, type ParsedCert } from '../../../src/pki/parsing/certificate.js';
import { DEFAULT_PATH_WORK_UNITS, PathWork, verificationCost } from '../../../src/pki/path/path-work.js';
import { keyProblem, validateClientChain } from '../../../src/pki/path/validate.js';
import { hostileChain, type HostileChain } from '../../helpers/hostile-chain.js';
import { basicPki } from '../pki-fixtures.js';

/**
 * Issue 7, defect 2: path search before authentication must do bounded work per request, by cost,
 * across every identity it tries. Work is counted (PathWork's counters), never timed.
 */
describe('path search work budget', () => {
  let hostile: HostileChain;
  let leaf: ParsedCert;
  let chain: ParsedCert[];
  let bundles: ParsedCert[][];
  beforeAll(async () => {
    hostile = await hostileChain();
    leaf = parseCertificate(hostile.leaf.der);
    chain = hostile.chain.map((c) => parseCertificate(c.der));
    // Three identities, none of which trusts the attacker: what an unnamed login tries in turn.
    bundles = [[(await basicPki('One')).root.parsed], [(await basicPki('Two')).root.parsed], [(await basicPki('Three')).root.parsed]];
  }, 60_000);

  it('charges RSA by modulus bits² × exponent bits, EC and Ed25519 a fixed cost', () => {
    expect(verificationCost({ algorithm: 'rsa', bits: 2048, exponent: 65537n, exponentBits: 17 })).toBe(1);
    expect(verificationCost({ algorithm: 'rsa', bits: 4096, exponent: 65537n, exponentBits: 17 })).toBe(4);
    expect(verificationCost({ algorithm: 'rsa', bits: 8192, exponent: 2n ** 31n - 1n, exponentBits: 31 })).toBe(30);
    expect(verificationCost({ algorithm: 'ec', curve: 'P-256' })).toBe(3);
    expect(verificationCost({ algorithm: 'ec', curve: 'P-384' })).toBe(22);
    expect(verificationCost({ algorithm: 'ed25519' })).toBe(4);
    expect(verificationCost({ algorithm: 'dsa' })).toBe(Infinity);
  });

  it('refuses RSA keys with a huge, even or tiny exponent, or a modulus over 8192 bits, without verifying', () => {
    const huge = chain.slice(hostile.saneCount);
    expect(huge.length).toBeGreaterThan(0);
    for (const c of huge) {
      expect(c.publicKey.exponentBits).toBe(201);
      expect(keyProblem(c)?.code).toBe('weak_or_unsupported_key');
    }
    expect(keyProblem(chain[0]!)).toBeUndefined(); // RSA-8192, e = 2^31 - 1: the costliest accepted key
    const withKey = (k: Partial<ParsedCert['publicKey']>) => keyProblem({ ...chain[0]!, publicKey: { ...chain[0]!.publicKey, ...k } })?.code;
    expect(withKey({ exponent: 65536n + 2n })).toBe('weak_or_unsupported_key'); // even
    expect(withKey({ exponent: 1n })).toBe('weak_or_unsupported_key');
    expect(withKey({ exponent: 2n ** 31n + 1n })).toBe('weak_or_unsupported_key');
    expect(withKey({ bits: 8200 })).toBe('weak_or_unsupported_key');
    expect(withKey({ bits: 2047 })).toBe('weak_or_unsupported_key');
  });

  it('the worst chain, tried against several identities, spends at most one budget and is refused', () => {
    const costs: number[] = [];
    const work = new PathWork({ onVerify: (c) => costs.push(c) });
    let code = '';
    // What authenticateCertificate does without identityId: every identity, one shared budget.
    for (const bundle of bundles) {
      try {
        validateClientChain({ leaf, presented: chain, bundle, now: new Date(), work });
      } catch (e) {
        if (!isCertgateError(e)) throw e;
        code = e.code;
        if (code === 'path_search_budget_exceeded') break;
      }
    }
    expect(code).toBe('path_search_budget_exceeded');
    expect(work.spent).toBeLessThanOrEqual(DEFAULT_PATH_WORK_UNITS);
    expect(costs.reduce((a, b) => a + b, 0)).toBe(work.spent);
    // Only the accepted RSA-8192 key was ever used: the huge-exponent keys cost nothing.
    expect(new Set(costs)).toEqual(new Set([30]));
    expect(work.verifications).toBe(Math.floor(DEFAULT_PATH_WORK_UNITS / 30));
  });

  it('a normal login is unaffected: it fits the budget easily, and a fresh request gets a fresh budget', async () => {
    const { root, int, leaf: honest } = await basicPki('Honest');
    const work = new PathWork();
    const r = validateClientChain({ leaf: honest.parsed, presented: [int.parsed], bundle: [root.parsed], now: new Date(), work });
    expect(r.path).toHaveLength(3);
    expect(work.verifications).toBe(2);
    expect(work.spent).toBe(6); // two ECDSA P-256 verifications
  });

  it('identities sharing a CA pay once per request: verifications are memoised across them', async () => {
    const { root, int, leaf: honest } = await basicPki('Shared');
    const work = new PathWork();
    for (let i = 0; i < 5; i++) validateClientChain({ leaf: honest.parsed, presented: [int.parsed], bundle: [root.parsed], now: new Date(), work });
    expect(work.verifications).toBe(2);
  });
});
