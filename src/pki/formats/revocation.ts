// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CertgateError, certRefused } from '../../errors.js';
import type { ParsedCert } from '../parsing/certificate.js';
import { bytesEqual, decodeOid, latin1, readChildren, readNode, serialHex, type DerNode } from '../parsing/der.js';
import { KEY_USAGE } from '../parsing/extension-oids.js';

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
 *   a verified CRL with thisUpdate <= now <= nextUpdate. A CRL without nextUpdate (RFC 5280
 *   requires it; some CAs omit it) is current for CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS after its
 *   thisUpdate, not forever: otherwise a last good copy kept while the distribution point is
 *   blocked would stay authoritative indefinitely. A failed load, an unparsable CRL, a bad
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
const REMOVE_FROM_CRL = 8;
const REASON_CODE = '2.5.29.21';
const CRL_NUMBER = '2.5.29.20';

/**
 * How long a CRL that carries no nextUpdate counts as current, from its thisUpdate: 24 h. CAs that
 * omit nextUpdate typically republish at least daily; one older than this is stale (failClosed
 * refuses, failOpen logs), though the serials it lists are still refused.
 */
export const CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS = 24 * 3600_000;

/** Until when (epoch ms) a CRL counts as current: its nextUpdate, else thisUpdate + the max age. */
export function crlCurrentUntil(thisUpdate: Date, nextUpdate: Date | undefined): number {
  return nextUpdate ? nextUpdate.getTime() : thisUpdate.getTime() + CRL_MAX_AGE_WITHOUT_NEXT_UPDATE_MS;
}

interface CrlEntry { serial: string; revocationDate: string; reason?: number }
interface Crl {
  source: string;
  issuerDer: Uint8Array;
  /** Signature, thisUpdate and nextUpdate. Not its entries or extensions: see decodeCrl. */
  crl: x509.X509Crl;
  entries: CrlEntry[];
  criticalExtensions: string[];
}

const isTime = (n: DerNode | undefined) => n?.tag === 0x17 || n?.tag === 0x18;

/** UTCTime / GeneralizedTime as ISO text for messages; the raw text when it is in another form. */
function timeText(n: DerNode): string {
  const s = latin1(n.value);
  const m = n.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return s;
  const year = n.tag === 0x17 ? (Number(m[1]) >= 50 ? 1900 : 2000) + Number(m[1]) : Number(m[1]);
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))).toISOString();
}

/** Extensions ::= SEQUENCE OF SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function extensions(n: DerNode): { oid: string; critical: boolean; value: Uint8Array }[] {
  if (n.tag !== 0x30) throw new Error('malformed Extensions');
  return readChildren(n.value).map((e) => {
    const [id, second, third, ...rest] = e.tag === 0x30 ? readChildren(e.value) : [];
    const critical = third !== undefined ? second : undefined;
    const value = third ?? second;
    if (id?.tag !== 0x06 || value?.tag !== 0x04 || rest.length || (critical && critical.tag !== 0x01)) throw new Error('malformed Extension');
    return { oid: decodeOid(id.value), critical: critical !== undefined && critical.value.some((b) => b !== 0), value: value.value };
  });
}

function entryOf(n: DerNode): CrlEntry {
  const [serial, date, exts, ...rest] = n.tag === 0x30 ? readChildren(n.value) : [];
  if (serial?.tag !== 0x02 || !isTime(date) || rest.length) throw new Error('malformed revokedCertificates entry');
  const entry: CrlEntry = { serial: serialHex(serial.value), revocationDate: timeText(date!) };
  const reason = exts ? extensions(exts).find((e) => e.oid === REASON_CODE) : undefined;
  if (reason) {
    const { node } = readNode(reason.value);
    if (node.tag !== 0x0a || node.value.length !== 1) throw new Error('malformed reasonCode');
    entry.reason = node.value[0];
  }
  return entry;
}

/**
 * Entries and CRL extensions are read here from the TBSCertList itself, not from @peculiar/x509:
 * for a CRL without the optional nextUpdate, @peculiar/x509 2.2 (asn1-x509 2.11) silently loses
 * revokedCertificates and crlExtensions, so every serial such a CRL lists would pass.
 */
function decodeCrl(source: string, bytes: Uint8Array): Crl {
  let decoded = decodedCrls.get(bytes);
  if (!decoded) {
    try {
      decoded = { ok: true, crl: decodeCrlBytes(bytes) };
    } catch (error) {
      decoded = { ok: false, error };
    }
    decodedCrls.set(bytes, decoded);
  }
  if (!decoded.ok) throw decoded.error;
  return { source, ...decoded.crl };
}

/**
 * Decoded CRLs by the exact byte array they came from: the CRL caches (src/revocation/cache.ts)
 * hand back the same Uint8Array until they fetch or read a new copy, so a cached CRL is decoded
 * once, not on every login. Decoding is deterministic, so a failure is remembered too.
 */
const decodedCrls = new WeakMap<Uint8Array, { ok: true; crl: Omit<Crl, 'source'> } | { ok: false; error: unknown }>();

/** The DER of a CRL given as DER or as PEM (-----BEGIN X509 CRL-----); always a fresh copy. */
export function crlDer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const text = Buffer.from(bytes).toString('latin1');
  return text.trimStart().startsWith('-----BEGIN X509 CRL-----')
    ? new Uint8Array(Buffer.from(text.replace(/-----(BEGIN|END) X509 CRL-----|\s+/g, ''), 'base64'))
    : new Uint8Array(bytes);
}

function decodeCrlBytes(bytes: Uint8Array): Omit<Crl, 'source'> {
  const der = crlDer(bytes);
  const { node, next } = readNode(der);
  if (node.tag !== 0x30 || next !== der.length) throw new Error('not a single DER SEQUENCE');
  const tbs = readChildren(node.value)[0];
  if (tbs?.tag !== 0x30) throw new Error('not a CertificateList');
  // TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature, issuer, thisUpdate,
  //   nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF … OPTIONAL, crlExtensions [0] OPTIONAL }
  const fields = readChildren(tbs.value);
  let i = fields[0]?.tag === 0x02 ? 1 : 0;
  // The issuer DN is taken as raw bytes for exact comparison with certificate subjects.
  const issuer = fields[i + 1];
  if (fields[i]?.tag !== 0x30 || issuer?.tag !== 0x30 || !isTime(fields[i + 2])) throw new Error('malformed TBSCertList');
  i += 3;
  if (isTime(fields[i])) i++;
  let entries: CrlEntry[] = [];
  if (fields[i]?.tag === 0x30) entries = readChildren(fields[i++]!.value).map(entryOf);
  let criticalExtensions: string[] = [];
  let hasCrlNumber = false;
  if (fields[i]?.tag === 0xa0) {
    const [exts, ...rest] = readChildren(fields[i++]!.value);
    if (!exts || rest.length) throw new Error('malformed crlExtensions');
    const list = extensions(exts);
    criticalExtensions = list.filter((e) => e.critical).map((e) => e.oid);
    hasCrlNumber = list.some((e) => e.oid === CRL_NUMBER);
  }
  if (i !== fields.length) throw new Error('malformed TBSCertList');
  // RFC 5280 5.2.3: conforming CRL issuers MUST include the CRL number; without it a CRL cannot be
  // ordered against a newer one, so it is not used (x509-limbo crl::crlnumber-missing).
  if (!hasCrlNumber) throw new Error('the CRL has no CRL number extension (RFC 5280 5.2.3)');
  return { issuerDer: issuer.raw, crl: new x509.X509Crl(der), entries, criticalExtensions };
}

/**
 * A CRL read without a login at hand (the background refresh, src/revocation/crl-watcher.ts): the
 * serials it lists (removeFromCRL entries left out), once it is verified like at login — signed by
 * one of `cas` whose subject is its issuer and which may sign CRLs, no critical extensions.
 * `problem` says why it does not count.
 */
export async function verifiedCrlSerials(
  bytes: Uint8Array,
  cas: readonly ParsedCert[],
): Promise<{ ok: true; issuerDer: Uint8Array; serials: string[] } | { ok: false; problem: string }> {
  let crl: Crl;
  try {
    crl = decodeCrl('', bytes);
  } catch (e) {
    return { ok: false, problem: `not a valid CRL: ${(e as Error).message}` };
  }
  if (crl.criticalExtensions.length) return { ok: false, problem: `critical extensions certgate does not interpret: ${crl.criticalExtensions.join(', ')}` };
  for (const ca of cas) {
    if (!bytesEqual(ca.subjectDer, crl.issuerDer)) continue;
    if (ca.keyUsage !== undefined && !(ca.keyUsage & KEY_USAGE.cRLSign)) continue;
    let ok = false;
    try {
      ok = await crl.crl.verify({ publicKey: new x509.X509Certificate(new Uint8Array(ca.der)) }, crypto);
    } catch {
      ok = false;
    }
    if (ok) return { ok: true, issuerDer: crl.issuerDer, serials: crl.entries.filter((e) => e.reason !== REMOVE_FROM_CRL).map((e) => e.serial) };
  }
  return { ok: false, problem: 'not signed by any CA certgate knows for it (the identity bundle, or a CA seen in a login)' };
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
  for (const { source, issuerDer, crl, entries, criticalExtensions } of crls) {
    const j = path.findIndex((c, k) => k > 0 && bytesEqual(c.subjectDer, issuerDer));
    if (j < 0) continue; // a CRL of some other CA of the bundle
    const ca = path[j]!;
    const subject = path[j - 1]!;
    if (criticalExtensions.length) { problems.push(`CRL ${source} has critical extensions certgate does not interpret: ${criticalExtensions.join(', ')}`); continue; }
    if (ca.keyUsage !== undefined && !(ca.keyUsage & KEY_USAGE.cRLSign)) { problems.push(`CRL ${source}: "${ca.subject}" may not sign CRLs`); continue; }
    let ok = false;
    try {
      ok = await crl.verify({ publicKey: new x509.X509Certificate(new Uint8Array(ca.der)) }, crypto);
    } catch {
      ok = false;
    }
    if (!ok) { problems.push(`CRL ${source} is not signed by "${ca.subject}"`); continue; }
    const entry = entries.find((e) => e.serial === subject.serial);
    if (entry && entry.reason !== REMOVE_FROM_CRL && !revoked) {
      revoked = certRefused('certificate_revoked', `"${subject.subject}" (serial ${subject.serial}) was revoked at ${entry.revocationDate}`);
    }
    if (crl.thisUpdate > now) problems.push(`CRL ${source} is not valid before ${crl.thisUpdate.toISOString()}`);
    else if (crl.nextUpdate && crl.nextUpdate < now) problems.push(`CRL ${source} is stale (nextUpdate ${crl.nextUpdate.toISOString()})`);
    else if (!crl.nextUpdate && crlCurrentUntil(crl.thisUpdate, undefined) < now.getTime()) {
      problems.push(`CRL ${source} is stale (no nextUpdate, thisUpdate ${crl.thisUpdate.toISOString()} more than 24 h ago)`);
    }
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
