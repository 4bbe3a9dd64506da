import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCertgateError } from '../../../src/errors.js';
import { parsePemBundle } from '../../../src/pki/parsing/certificate.js';
import { validateClientChain } from '../../../src/pki/path/validate.js';

/** x509-limbo (C2SP, Apache-2.0) CLIENT cases: name constraints on client certificate emails. */
interface LimboCase {
  id: string;
  expected_result: 'SUCCESS' | 'FAILURE';
  validation_time: string | null;
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
}
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/limbo/client-cases.json', import.meta.url), 'utf8')) as { testcases: LimboCase[] };
// The limbo certificates are valid 1970..2969; cases without a time get a fixed, reproducible one.
const DEFAULT_TIME = new Date('2025-06-01T00:00:00Z');

const pems = (list: string[]) => list.flatMap((p) => parsePemBundle(p));

describe('x509-limbo client cases', () => {
  it('covers every case of the fixture', () => {
    expect(fixture.testcases.length).toBe(10);
  });

  it.each(fixture.testcases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const [leaf] = pems([c.peer_certificate]);
    let outcome: string;
    try {
      validateClientChain({
        leaf: leaf!,
        presented: pems(c.untrusted_intermediates),
        bundle: pems(c.trusted_certs),
        now: c.validation_time ? new Date(c.validation_time) : DEFAULT_TIME,
      });
      outcome = 'SUCCESS';
    } catch (e) {
      if (!isCertgateError(e)) throw e;
      // Every limbo client case is about name constraints: a failure must be for that reason.
      expect(e.code).toBe('name_constraints_violated');
      outcome = 'FAILURE';
    }
    expect(outcome).toBe(c.expected_result);
  });
});
