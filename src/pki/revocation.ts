// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CertgateError, certRefused } from '../errors.js';
import type { ParsedCert } from './certificate.js';
import { bytesEqual, readChildren, readNode } from './der.js';

/**
 * CRL checking of a validated path, pure apart from the injected loaders.
 *
 * - CRLs come from `files`, `urls` and, with `fromCertificate`, the CRL distribution points of
 *   every non-anchor certificate of the path.
 * - A CRL counts only when its issuer DN matches a CA of the path, that CA's key verifies its
 *   signature and (when it has keyUsage) the CA may sign CRLs. CRLs of CAs outside the path are
 *   ignored (an identity's bundle may hold several CAs).
 * - A serial listed in a verified CRL of its issuer is `certificate_revoked`, stale CRL or not,
 *   under either policy.
 * - Coverage: the leaf, and every intermediate whose distribution points were consulted, needs
 *   a verified CRL with thisUpdate <= now <= nextUpdate. A failed load, an unparsable CRL, a bad
 *   signature, a stale CRL or a missing CRL is a problem: `failClosed` refuses with
 *   `revocation_unavailable`, `failOpen` passes and returns the problems for logging.
 * - CRLs with critical extensions (issuingDistributionPoint, deltaCRLIndicator) are not
 *   interpreted: a partitioned or delta CRL read as complete would hide revocations.
 * - A pinned leaf (path of one) has no issuer in the path; removing it from the bundle revokes it.
 */
export interface CrlSources { fromCertificate?: boolean; urls?: string[]; files?: string[] }
export interface RevocationInput {
  /** leaf … anchor, as returned by validateClientChain. */
  path: ParsedCert[];
  sources: CrlSources;
  now: Date;
  onUnavailable: 'failClosed' | 'failOpen';
  /** DER or PEM bytes of the CRL at `url`; rejects when it cannot be had. */
  fetchCrl: (url: string) => Promise<Uint8Array>;
  /** DER or PEM bytes of a CRL file. */
  readCrlFile: (path: string) => Promise<Uint8Array>;
}
export interface RevocationResult {
  /** Problems tolerated under failOpen (always empty under failClosed, which throws instead). */
  unavailable: string[];
}

const crypto = webcrypto as unknown as Crypto;
const CRL_SIGN = 64; // x509.KeyUsageFlags.cRLSign
const REMOVE_FROM_CRL = 8;

interface Crl { source: string; issuerDer: Uint8Array; crl: x509.X509Crl }

const normSerial = (hex: string) => hex.toLowerCase().replace(/^(00)+(?=..)/, '');

function decodeCrl(source: string, bytes: Uint8Array): Crl {
  const text = Buffer.from(bytes).toString('latin1');
  const der = text.trimStart().startsWith('-----BEGIN X509 CRL-----')
    ? new Uint8Array(Buffer.from(text.replace(/-----(BEGIN|END) X509 CRL-----|\s+/g, ''), 'base64'))
    : new Uint8Array(bytes);
  // The issuer DN is taken as raw bytes for exact comparison with certificate subjects.
  const { node, next } = readNode(der);
  if (node.tag !== 0x30 || next !== der.length) throw new Error('not a single DER SEQUENCE');
  const tbs = readChildren(node.value)[0];
  if (tbs?.tag !== 0x30) throw new Error('not a CertificateList');
  const fields = readChildren(tbs.value);
  const issuer = fields[fields[0]?.tag === 0x02 ? 2 : 1];
  if (issuer?.tag !== 0x30) throw new Error('malformed TBSCertList');
  return { source, issuerDer: issuer.raw, crl: new x509.X509Crl(der) };
}

async function load(input: RevocationInput, problems: string[]): Promise<Crl[]> {
  const { sources, path } = input;
  const jobs: [string, () => Promise<Uint8Array>][] = [];
  for (const f of sources.files ?? []) jobs.push([`file ${f}`, () => input.readCrlFile(f)]);
  const urls = new Set(sources.urls ?? []);
  if (sources.fromCertificate) for (const c of path.slice(0, -1)) for (const u of c.crlDistributionPoints) urls.add(u);
  for (const u of urls) jobs.push([u, () => input.fetchCrl(u)]);
  const settled = await Promise.allSettled(jobs.map(([, run]) => run()));
  const out: Crl[] = [];
  settled.forEach((r, i) => {
    const source = jobs[i]![0];
    if (r.status === 'rejected') return void problems.push(`CRL ${source} could not be loaded: ${(r.reason as Error)?.message ?? r.reason}`);
    try {
      out.push(decodeCrl(source, r.value));
    } catch (e) {
      problems.push(`CRL ${source} is not a valid CRL: ${(e as Error).message}`);
    }
  });
  return out;
}

export async function checkRevocation(input: RevocationInput): Promise<RevocationResult> {
  const { path, now } = input;
  const problems: string[] = [];
  if (path.length < 2) return { unavailable: [] };
  const crls = await load(input, problems);

  // covered[i]: path[i] has a fresh, verified CRL from path[i + 1].
  const covered = new Array<boolean>(path.length).fill(false);
  let revoked: CertgateError | undefined;
  for (const { source, issuerDer, crl } of crls) {
    const j = path.findIndex((c, k) => k > 0 && bytesEqual(c.subjectDer, issuerDer));
    if (j < 0) continue; // a CRL of some other CA of the bundle
    const ca = path[j]!;
    const subject = path[j - 1]!;
    const critical = crl.extensions.filter((e) => e.critical).map((e) => e.type);
    if (critical.length) { problems.push(`CRL ${source} has critical extensions certgate does not interpret: ${critical.join(', ')}`); continue; }
    if (ca.keyUsage !== undefined && !(ca.keyUsage & CRL_SIGN)) { problems.push(`CRL ${source}: "${ca.subject}" may not sign CRLs`); continue; }
    let ok = false;
    try {
      ok = await crl.verify({ publicKey: new x509.X509Certificate(new Uint8Array(ca.der)) }, crypto);
    } catch {
      ok = false;
    }
    if (!ok) { problems.push(`CRL ${source} is not signed by "${ca.subject}"`); continue; }
    const entry = crl.entries.find((e) => normSerial(e.serialNumber) === normSerial(subject.serial));
    if (entry && entry.reason !== REMOVE_FROM_CRL && !revoked) {
      revoked = certRefused('certificate_revoked', `"${subject.subject}" (serial ${subject.serial}) was revoked at ${entry.revocationDate.toISOString()}`);
    }
    if (crl.thisUpdate > now) problems.push(`CRL ${source} is not valid before ${crl.thisUpdate.toISOString()}`);
    else if (crl.nextUpdate && crl.nextUpdate < now) problems.push(`CRL ${source} is stale (nextUpdate ${crl.nextUpdate.toISOString()})`);
    else covered[j - 1] = true;
  }
  if (revoked) throw revoked;

  path.slice(0, -1).forEach((c, i) => {
    const required = i === 0 || (input.sources.fromCertificate && c.crlDistributionPoints.length > 0);
    if (required && !covered[i]) problems.push(`no current CRL from "${path[i + 1]!.subject}" covers "${c.subject}"`);
  });
  if (problems.length && input.onUnavailable === 'failClosed') {
    throw certRefused('revocation_unavailable', `revocation status cannot be established: ${problems[0]}`);
  }
  return { unavailable: problems };
}
