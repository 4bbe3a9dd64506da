import { expect } from 'vitest';
import { badRequest, isCertgateError } from '../../../src/errors.js';
import { decodeFastOnly, parseCertificate, type ParsedCert } from '../../../src/pki/parsing/certificate.js';
import { decodeReference } from '../../../src/pki/parsing/certificate-reference.js';

/**
 * Differential check of parseCertificate against the reference decoder (the former three-decoder
 * implementation, src/pki/parsing/certificate-reference.ts): same fields, same key order, same refusals.
 */

/** Every field of a ParsedCert as plain data. */
export function comparable(c: ParsedCert) {
  return {
    keys: Object.keys(c),
    ...c,
    // The reference returned these two as @peculiar/asn1-x509 Array subclasses (ExtendedKeyUsage,
    // CRLDistributionPoints, via the species of Array#map / #flatMap); the fast decoder returns
    // plain Arrays of the same strings. Elements and order are compared.
    ...(c.extendedKeyUsage ? { extendedKeyUsage: Array.from(c.extendedKeyUsage) } : {}),
    crlDistributionPoints: Array.from(c.crlDistributionPoints),
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
  };
}

type Outcome = { ok: true; cert: ReturnType<typeof comparable> } | { ok: false; code: string; message: string };

function outcomeOf(parse: () => ParsedCert): Outcome {
  try {
    return { ok: true, cert: comparable(parse()) };
  } catch (e) {
    if (!isCertgateError(e)) throw e;
    return { ok: false, code: e.code, message: e.message };
  }
}

/** What the former parseCertificate returned or threw for these bytes. */
export function referenceOutcome(der: Uint8Array): Outcome {
  return outcomeOf(() => {
    try {
      return decodeReference(new Uint8Array(der));
    } catch (e) {
      // The wrapping parseCertificate has always applied.
      throw badRequest('malformed_certificate', `not a well-formed X.509 certificate: ${(e as Error).message}`);
    }
  });
}

/**
 * Asserts parseCertificate(der) is indistinguishable from the reference, and that the fast decoder,
 * whenever it accepts the bytes on its own, agrees with it. Returns whether the fast decoder took it.
 */
export function expectSameAsReference(der: Uint8Array, label = ''): boolean {
  return checkAgainstReference(der, label).fast;
}

/** expectSameAsReference, also returning the reference's verdict. */
export function checkAgainstReference(der: Uint8Array, label = ''): { fast: boolean; referenceAccepted: boolean } {
  const expected = referenceOutcome(der);
  expect(outcomeOf(() => parseCertificate(der)), label).toStrictEqual(expected);
  const fast = decodeFastOnly(der);
  if (fast) {
    // The fast decoder never accepts what the reference refuses.
    expect(expected.ok, label).toBe(true);
    expect(comparable(fast), label).toStrictEqual((expected as { cert: unknown }).cert);
  }
  return { fast: fast !== undefined, referenceAccepted: expected.ok };
}

/** Content octets of an OBJECT IDENTIFIER, for hand-built DER. */
export function oidBytes(oid: string): Uint8Array {
  const [a, b, ...rest] = oid.split('.').map(Number);
  const out: number[] = [];
  for (const arc of [a! * 40 + b!, ...rest]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return Uint8Array.from(out);
}
