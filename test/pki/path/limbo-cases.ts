import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { CertgateError, isCertgateError } from '../../../src/errors.js';
import { parsePemBundle, parseCertificate, type ParsedCert } from '../../../src/pki/parsing/certificate.js';
import { checkRevocation } from '../../../src/pki/formats/revocation.js';
import { validateClientChain } from '../../../src/pki/path/validate.js';

/**
 * x509-limbo (C2SP, Apache-2.0, test/fixtures/limbo/LICENSE): every case of the full fixture asked
 * the question certgate answers at login — may this peer certificate authenticate a TLS client,
 * given these trust anchors (an identity's bundle), these presented intermediates, at this time
 * (and, where the case has CRLs, with those CRLs as the identity's CRL files)? No name policy.
 */
export interface LimboCase {
  id: string;
  description: string;
  features: string[];
  validation_kind: 'CLIENT' | 'SERVER';
  expected_result: 'SUCCESS' | 'FAILURE';
  validation_time: string | null;
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  crls: string[];
  max_chain_depth: number | null;
  extended_key_usage: string[];
  expected_peer_name: { kind: string; value: string } | null;
  x_leaf_default_eku_swapped?: boolean;
}

export const fullCases = (): LimboCase[] =>
  (JSON.parse(gunzipSync(readFileSync(new URL('../../fixtures/limbo/full-cases.json.gz', import.meta.url))).toString('utf8')) as { testcases: LimboCase[] }).testcases;

// The limbo certificates are valid 1970..2969; cases without a time get a fixed, reproducible one.
const DEFAULT_TIME = new Date('2025-06-01T00:00:00Z');

/**
 * Why a case is outside certgate's model (it asks something certgate never decides), or undefined.
 * The categories are the fixture README's: hostname checks, certificate policies, max chain depth,
 * wildcards in certificates.
 */
export function outOfModel(c: LimboCase): string | undefined {
  if (c.max_chain_depth !== null) return 'max chain depth';
  if (c.id.includes('::pc::') || c.features.includes('has-policy-constraints')) return 'certificate policies';
  if (c.features.includes('pedantic-public-suffix-wildcard') || /wildcard/.test(c.id) || c.id.startsWith('cve::cve-2025-61727') || c.id === 'webpki::nc::nc-permits-dns-san-pattern') {
    return 'wildcards in certificates';
  }
  // certgate asks clientAuth. A case that asks serverAuth (extended_key_usage), or a real server
  // chain whose leaf allows serverAuth only (online::, not swapped by the fixture), answers another question.
  if (c.extended_key_usage.length && !c.extended_key_usage.includes('clientAuth')) return 'a serverAuth question';
  if (c.id.startsWith('online::') && !leafAllowsClientAuth(c)) return 'a serverAuth question';
  if (c.id.startsWith('webpki::cn::') || c.id.startsWith('webpki::san::') || c.id === 'rfc5280::ca-as-leaf-wrong-san') return 'hostname check';
  return undefined;
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
function leafAllowsClientAuth(c: LimboCase): boolean {
  const eku = parsePemBundle(c.peer_certificate)[0]!.extendedKeyUsage;
  return eku === undefined || eku.includes(CLIENT_AUTH);
}

export interface Verdict { result: 'SUCCESS' | 'FAILURE'; code: string; status: number }

const refusal = (e: CertgateError): Verdict => ({ result: 'FAILURE', code: e.code, status: e.status });

/** certgate's answer; throws only for a crash (anything that would be a 500). */
export async function certgateVerdict(c: LimboCase): Promise<Verdict> {
  try {
    const pems = (list: string[]) => list.flatMap((p) => parsePemBundle(p));
    let bundle: ParsedCert[];
    let presented: ParsedCert[];
    let leaf: ParsedCert;
    try {
      // A bundle certgate cannot read is refused at startup: no identity, no login.
      bundle = pems(c.trusted_certs);
      presented = pems(c.untrusted_intermediates);
    } catch (e) {
      return { result: 'FAILURE', code: 'config_refused', status: 400 };
    }
    const leafDer = parsePemBundle(c.peer_certificate)[0]!.der;
    leaf = parseCertificate(leafDer);
    const now = c.validation_time ? new Date(c.validation_time) : DEFAULT_TIME;
    const { path } = validateClientChain({ leaf, presented, bundle, now });
    if (c.crls.length) {
      await checkRevocation({
        path,
        sources: { files: c.crls.map((_, i) => String(i)) },
        now,
        onUnavailable: 'failClosed',
        fetchCrl: () => Promise.reject(new Error('no network')),
        readCrlFile: async (f) => new TextEncoder().encode(c.crls[Number(f)]!),
      });
    }
    return { result: 'SUCCESS', code: 'ok', status: 200 };
  } catch (e) {
    if (isCertgateError(e)) return refusal(e);
    // parsePemBundle throws plain Errors for a bad leaf PEM: the login would answer 400.
    if (e instanceof Error && /certificate at line/.test(e.message)) return { result: 'FAILURE', code: 'malformed_certificate', status: 400 };
    throw e;
  }
}
