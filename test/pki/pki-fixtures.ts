import { parseCertificate, type ParsedCert } from '../../src/pki/parsing/certificate.js';
import { mintCertificate, type MintOptions, type MintedCert } from '../../src/pki/mint.js';
import { validateClientChain, type ValidatedPath } from '../../src/pki/path/validate.js';
import { isCertgateError } from '../../src/errors.js';
import { expectSameAsReference } from './parsing/equivalence.js';

/**
 * Shared helpers for the pki tests: mint + parse in one step, and a validation outcome as data.
 * Every certificate parsed here is also checked against the reference decoder, field by field, and
 * must have been read by the fast decoder (minted certificates are all inside its subset).
 */
export const parsed = (m: MintedCert): ParsedCert => {
  if (!expectSameAsReference(m.der, m.subject)) throw new Error(`minted certificate "${m.subject}" fell back to the reference decoder`);
  return parseCertificate(m.der);
};

export async function mint(opts: MintOptions): Promise<MintedCert & { parsed: ParsedCert }> {
  const m = await mintCertificate(opts);
  return { ...m, parsed: parsed(m) };
}

/** A root -> intermediate -> leaf PKI with default (valid, clientAuth) settings. */
export async function basicPki(prefix = 'Test') {
  const root = await mint({ subject: `CN=${prefix} Root, O=Corp`, ca: true });
  const int = await mint({ subject: `CN=${prefix} Intermediate, O=Corp`, ca: true, issuer: root });
  const leaf = await mint({ subject: 'CN=agent-1, O=Corp', issuer: int, san: [{ type: 'dns', value: 'agent-1.corp.example' }] });
  return { root, int, leaf };
}

export interface Outcome { code: string; path?: string[]; message?: string }

/** 'ok' with the path's subjects, or the refusal code: table rows compare these. */
export function outcome(input: { leaf: ParsedCert; presented?: ParsedCert[]; bundle: ParsedCert[]; now?: Date }): Outcome {
  let r: ValidatedPath;
  try {
    r = validateClientChain({ leaf: input.leaf, presented: input.presented ?? [], bundle: input.bundle, now: input.now ?? new Date() });
  } catch (e) {
    if (!isCertgateError(e)) throw e;
    return { code: e.code, message: e.message };
  }
  return { code: 'ok', path: r.path.map((c) => c.commonNames[0] ?? c.subject) };
}

/** The DER with one byte of the signature value flipped (the last byte of the certificate). */
export function tamperSignature(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(der);
  out[out.length - 1] = out[out.length - 1]! ^ 0x01;
  return out;
}

export const HOUR = 3600_000;
export const DAY = 24 * HOUR;
