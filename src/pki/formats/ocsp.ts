import { constants, createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { parseCertificate, type ParsedCert } from '../parsing/certificate.js';
import { bytesEqual, decodeOid, latin1, readChildren, readNode, tlv, type DerNode } from '../parsing/der.js';
import { AUTHORITY_INFO_ACCESS, SIGNATURE_ALGORITHMS as SIGNATURES } from '../parsing/extension-oids.js';
import { readPssParams, type PssParams } from '../parsing/pss.js';
import { publicKeyObject } from '../parsing/public-key.js';
import { keyProblem, verifiesWith } from '../path/validate.js';

/**
 * OCSP (RFC 6960), pure: the request for (certificate, issuer) and the verification of the
 * responder's answer. No I/O; src/revocation/ocsp.ts posts the request and caches the verdicts.
 *
 * - The request holds one CertID (SHA-1 name and key hashes, as RFC 5019 responders expect) and
 *   no nonce: answers are cached until their nextUpdate, so a nonce could not be checked anyway.
 * - An answer counts only when its signature verifies with the key of the certificate's issuer,
 *   or with a delegated responder certificate that the issuer signed, that carries EKU
 *   id-kp-OCSPSigning and that is valid now (its own revocation is not checked, as with
 *   id-pkix-ocsp-nocheck). A responder trusted by configuration alone is not supported.
 * - Signature algorithms and keys: the ones path validation accepts (no SHA-1, no weak keys).
 * - The SingleResponse used is the one whose CertID (any of SHA-1/256/384/512) names exactly this
 *   issuer name, issuer key and serial; none → the answer is invalid.
 * - Critical extensions in the answer are not interpreted, so they make it invalid.
 * - Time (`ocspTimeProblem`): thisUpdate ≤ now + skew, nextUpdate > now; an answer without
 *   nextUpdate counts as current for `maxAgeWithoutNextUpdateMs` after its thisUpdate, which
 *   bounds the replay of an old "good" answer over plain http.
 * Every defect throws `OcspError` with a short reason (never the bytes).
 */

export class OcspError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OcspError';
  }
}

export type OcspCertStatus = 'good' | 'revoked' | 'unknown';
export interface OcspVerdict {
  status: OcspCertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** revoked only. */
  revokedAt?: Date;
  /** CRLReason code, when the responder gave one (revoked only). */
  revocationReason?: number;
  /** Who signed the answer: the issuer itself, or a responder certificate it delegated. */
  signer: 'issuer' | 'delegated';
  /** The delegated responder's subject (for logs). */
  responder?: string;
}

export const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const DEFAULT_OCSP_SKEW_MS = 5 * 60_000;
const DEFAULT_MAX_AGE_WITHOUT_NEXT_UPDATE_MS = 3600_000;

const AD_OCSP = '1.3.6.1.5.5.7.48.1';
const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const HASHES: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** AlgorithmIdentifier { id-sha1, NULL }. */
const SHA1_ALGORITHM = new Uint8Array([0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00]);
const RESPONSE_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(4)', 'sigRequired', 'unauthorized'];

/* ------------------------------------------------------------------ DER helpers */

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new OcspError(`malformed OCSP response: ${what}`);
}

function whole(buf: Uint8Array, tag: number, what: string): DerNode {
  let r: ReturnType<typeof readNode>;
  try {
    r = readNode(buf);
  } catch (e) {
    throw new OcspError(`malformed OCSP response: ${what}: ${(e as Error).message}`);
  }
  need(r.node.tag === tag && r.next === buf.length, what);
  return r.node;
}

function kids(n: DerNode, what: string): DerNode[] {
  try {
    return readChildren(n.value);
  } catch (e) {
    throw new OcspError(`malformed OCSP response: ${what}: ${(e as Error).message}`);
  }
}

const oidOf = (n: DerNode | undefined, what: string): string => {
  need(n?.tag === 0x06 && n.value.length > 0, what);
  return decodeOid(n.value);
};

/** GeneralizedTime, YYYYMMDDHHMMSS[.fff]Z. */
function generalizedTime(n: DerNode | undefined, what: string): Date {
  need(n?.tag === 0x18, what);
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(latin1(n.value));
  need(m, `${what} is not a GeneralizedTime`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  need(Number.isFinite(t), `${what} is not a valid time`);
  return new Date(t);
}

/** Critical extensions are not interpreted, so they make the answer unusable. */
function refuseCritical(extsWrapper: DerNode | undefined, what: string): void {
  if (!extsWrapper) return;
  const [exts, ...rest] = kids(extsWrapper, what);
  need(exts?.tag === 0x30 && rest.length === 0, what);
  for (const ext of kids(exts, what)) {
    need(ext.tag === 0x30, what);
    const [id, second] = kids(ext, what);
    const type = oidOf(id, what);
    if (second?.tag === 0x01 && second.value[0] !== 0) throw new OcspError(`the OCSP response has a critical ${what} certgate does not interpret: ${type}`);
  }
}

/* ------------------------------------------------------------------ certificate fields */

/** The TBSCertificate fields, with `v` the index of serialNumber (1 when a version is present). */
function tbsFields(cert: ParsedCert): { fields: DerNode[]; v: number } {
  const outer = readNode(cert.der).node;
  const tbs = readChildren(outer.value)[0]!;
  const fields = readChildren(tbs.value);
  return { fields, v: fields[0]?.tag === 0xa0 ? 1 : 0 };
}

/** The serialNumber INTEGER element, exactly as encoded in the certificate. */
function serialElement(cert: ParsedCert): Uint8Array {
  const { fields, v } = tbsFields(cert);
  const serial = fields[v];
  if (serial?.tag !== 0x02) throw new OcspError(`"${cert.subject}" has no readable serial number`);
  return serial.raw;
}

/** The subjectPublicKey BIT STRING content without its unused-bits octet (what issuerKeyHash hashes). */
function publicKeyBits(cert: ParsedCert): Uint8Array {
  const { fields, v } = tbsFields(cert);
  const spki = fields[v + 5];
  const bits = spki?.tag === 0x30 ? readChildren(spki.value)[1] : undefined;
  if (bits?.tag !== 0x03 || bits.value.length < 1) throw new OcspError(`"${cert.subject}" has no readable public key`);
  return bits.value.subarray(1);
}

/** The http(s)… OCSP responder URLs of the certificate's authorityInfoAccess, in order. */
export function ocspUrlsOf(cert: ParsedCert): string[] {
  try {
    const { fields, v } = tbsFields(cert);
    const extsWrapper = fields.slice(v + 6).find((f) => f.tag === 0xa3);
    if (!extsWrapper) return [];
    const exts = readChildren(readChildren(extsWrapper.value)[0]!.value);
    const urls: string[] = [];
    for (const ext of exts) {
      const [id, a, b] = readChildren(ext.value);
      if (id?.tag !== 0x06 || decodeOid(id.value) !== AUTHORITY_INFO_ACCESS) continue;
      const octets = a?.tag === 0x04 ? a : b;
      if (octets?.tag !== 0x04) continue;
      for (const ad of readChildren(readNode(octets.value).node.value)) {
        const [method, location] = readChildren(ad.value);
        if (method?.tag === 0x06 && decodeOid(method.value) === AD_OCSP && location?.tag === 0x86) {
          urls.push(latin1(location.value));
        }
      }
    }
    return urls;
  } catch {
    // parseCertificate already accepted the certificate; an unreadable AIA simply names no responder.
    return [];
  }
}

/* ------------------------------------------------------------------ request */

const hash = (alg: string, data: Uint8Array) => new Uint8Array(createHash(alg).update(data).digest());

/** OCSPRequest for one certificate: one Request, SHA-1 CertID, no extensions, unsigned. */
export function buildOcspRequest(cert: ParsedCert, issuer: ParsedCert): Uint8Array {
  const certId = tlv(
    0x30,
    SHA1_ALGORITHM,
    tlv(0x04, hash('sha1', cert.issuerDer)),
    tlv(0x04, hash('sha1', publicKeyBits(issuer))),
    serialElement(cert),
  );
  // OCSPRequest { TBSRequest { requestList SEQUENCE OF Request { reqCert CertID } } }
  return tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, certId))));
}

/* ------------------------------------------------------------------ response */

/** RSASSA-PSS parameters as for certificates (pss.ts). */
function pssParams(params: DerNode | undefined): PssParams {
  try {
    return readPssParams(params);
  } catch (e) {
    throw new OcspError(`the OCSP response is signed with ${(e as Error).message}`);
  }
}

function signatureVerifies(alg: DerNode, signature: DerNode, data: Uint8Array, key: KeyObject): boolean {
  const [idNode, params] = kids(alg, 'signatureAlgorithm');
  const id = oidOf(idNode, 'signatureAlgorithm');
  const s = SIGNATURES[id];
  if (!s) throw new OcspError(`the OCSP response is signed with ${id}, which is not accepted`);
  need(signature.tag === 0x03 && signature.value[0] === 0, 'signature');
  const sig = signature.value.subarray(1);
  try {
    switch (s.kind) {
      case 'ecdsa':
        return key.asymmetricKeyType === 'ec' && verifySignature(s.hash, data, { key, dsaEncoding: 'der' }, sig);
      case 'rsa':
        return key.asymmetricKeyType === 'rsa' && verifySignature(s.hash, data, key, sig);
      case 'ed25519':
        return key.asymmetricKeyType === 'ed25519' && verifySignature(null, data, key, sig);
      case 'pss': {
        const p = pssParams(params);
        return (
          (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') &&
          verifySignature(p.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, sig)
        );
      }
    }
  } catch (e) {
    if (e instanceof OcspError) throw e;
    return false;
  }
}

/** Does the responderID (byName [1] / byKey [2]) name this certificate? */
function namesResponder(responderId: DerNode, c: ParsedCert): boolean {
  const [inner] = kids(responderId, 'responderID');
  if (responderId.tag === 0xa1) return inner !== undefined && bytesEqual(inner.raw, c.subjectDer);
  need(responderId.tag === 0xa2 && inner?.tag === 0x04, 'responderID');
  return bytesEqual(inner.value, hash('sha1', publicKeyBits(c)));
}

/** Why `c` may not answer for `issuer`'s certificates, or undefined when it may. */
function delegationProblem(c: ParsedCert, issuer: ParsedCert, now: Date): string | undefined {
  const who = `responder certificate "${c.subject}"`;
  if (!bytesEqual(c.issuerDer, issuer.subjectDer)) return `${who} is not issued by "${issuer.subject}"`;
  if (!SIGNATURES[c.signatureAlgorithm]) return `${who} is signed with ${c.signatureAlgorithm}, which is not accepted`;
  if (!c.extendedKeyUsage?.includes(OCSP_SIGNING)) return `${who} lacks extended key usage id-kp-OCSPSigning`;
  if (c.notAfter < now || c.notBefore > now) return `${who} is not valid at ${now.toISOString()}`;
  const weak = keyProblem(c);
  if (weak) return `${who}: ${weak.message}`;
  // Last: the cheap checks above refuse what is not worth a signature verification.
  if (!verifiesWith(c, issuer)) return `${who} is not signed by "${issuer.subject}"`;
  return undefined;
}

function matchesCertId(certId: DerNode, cert: ParsedCert, issuer: ParsedCert, serial: Uint8Array): boolean {
  const [alg, nameHash, keyHash, serialNode, ...rest] = kids(certId, 'CertID');
  need(alg?.tag === 0x30 && nameHash?.tag === 0x04 && keyHash?.tag === 0x04 && serialNode?.tag === 0x02 && rest.length === 0, 'CertID');
  const h = HASHES[oidOf(kids(alg, 'CertID hashAlgorithm')[0], 'CertID hashAlgorithm')];
  if (!h) return false;
  return (
    bytesEqual(serialNode.raw, serial) &&
    bytesEqual(nameHash.value, hash(h, cert.issuerDer)) &&
    bytesEqual(keyHash.value, hash(h, publicKeyBits(issuer)))
  );
}

/**
 * Verifies an OCSP response for `cert` issued by `issuer`: response status, signer, signature,
 * CertID and the certificate status. Time is judged separately (`ocspTimeProblem`), so a cached
 * verdict can be re-judged at every login. Throws OcspError when the response cannot be used.
 */
export function verifyOcspResponse(input: { response: Uint8Array; cert: ParsedCert; issuer: ParsedCert; now: Date }): OcspVerdict {
  const { cert, issuer, now } = input;
  const top = kids(whole(input.response, 0x30, 'OCSPResponse'), 'OCSPResponse');
  const [status, bytesWrapper] = top;
  need(status?.tag === 0x0a && status.value.length === 1, 'responseStatus');
  const code = status.value[0]!;
  if (code !== 0) throw new OcspError(`the OCSP responder answered ${RESPONSE_STATUS[code] ?? `status ${code}`}`);
  need(bytesWrapper?.tag === 0xa0 && top.length === 2, 'responseBytes');
  const [responseBytes] = kids(bytesWrapper, 'responseBytes');
  need(responseBytes?.tag === 0x30, 'responseBytes');
  const [type, octets] = kids(responseBytes, 'responseBytes');
  const responseType = oidOf(type, 'responseType');
  if (responseType !== ID_PKIX_OCSP_BASIC) throw new OcspError(`the OCSP response type ${responseType} is not supported`);
  need(octets?.tag === 0x04, 'response');

  const [tbs, sigAlg, signature, certsWrapper, ...more] = kids(whole(octets.value, 0x30, 'BasicOCSPResponse'), 'BasicOCSPResponse');
  need(tbs?.tag === 0x30 && sigAlg?.tag === 0x30 && signature && more.length === 0, 'BasicOCSPResponse');
  need(!certsWrapper || certsWrapper.tag === 0xa0, 'certs');

  let fields = kids(tbs, 'ResponseData');
  if (fields[0]?.tag === 0xa0) {
    const [version] = kids(fields[0], 'version');
    need(version?.tag === 0x02 && version.value.length === 1 && version.value[0] === 0, 'version (only v1 exists)');
    fields = fields.slice(1);
  }
  const [responderId, producedAt, responses, extensions, ...extra] = fields;
  need(responderId && (responderId.tag === 0xa1 || responderId.tag === 0xa2), 'responderID');
  generalizedTime(producedAt, 'producedAt');
  need(responses?.tag === 0x30, 'responses');
  need(!extensions || extensions.tag === 0xa1, 'responseExtensions');
  need(extra.length === 0, 'ResponseData');
  refuseCritical(extensions, 'response extension');

  // The signer: the issuer itself, or a delegated responder certificate carried in `certs`.
  let signer: ParsedCert | undefined;
  let delegated = false;
  if (namesResponder(responderId, issuer)) signer = issuer;
  else {
    const carried: ParsedCert[] = [];
    if (certsWrapper) {
      const [list] = kids(certsWrapper, 'certs');
      need(list?.tag === 0x30, 'certs');
      for (const c of kids(list, 'certs')) {
        try {
          carried.push(parseCertificate(c.raw));
        } catch {
          throw new OcspError('the OCSP response carries a malformed certificate');
        }
      }
    }
    const named = carried.filter((c) => namesResponder(responderId, c));
    if (named.length === 0) throw new OcspError(`the OCSP response is signed by a responder that is neither "${issuer.subject}" nor a certificate it carries`);
    const problems = named.map((c) => delegationProblem(c, issuer, now));
    const ok = problems.findIndex((p) => p === undefined);
    if (ok < 0) throw new OcspError(`the OCSP response is not from an authorised responder: ${problems[0]}`);
    signer = named[ok]!;
    delegated = true;
  }
  if (!signatureVerifies(sigAlg, signature, tbs.raw, publicKeyObject(signer))) {
    throw new OcspError(`the OCSP response signature does not verify with the key of "${signer.subject}"`);
  }

  const serial = serialElement(cert);
  const single = kids(responses, 'responses').find((r) => {
    need(r.tag === 0x30, 'SingleResponse');
    return matchesCertId(kids(r, 'SingleResponse')[0]!, cert, issuer, serial);
  });
  if (!single) throw new OcspError(`the OCSP response has no answer for serial ${cert.serial} of "${issuer.subject}" (CertID does not match)`);
  const [, certStatus, thisUpdateNode, ...tail] = kids(single, 'SingleResponse');
  need(certStatus, 'certStatus');
  const thisUpdate = generalizedTime(thisUpdateNode, 'thisUpdate');
  let nextUpdate: Date | undefined;
  let singleExtensions: DerNode | undefined;
  for (const f of tail) {
    if (f.tag === 0xa0 && !nextUpdate && !singleExtensions) nextUpdate = generalizedTime(kids(f, 'nextUpdate')[0], 'nextUpdate');
    else if (f.tag === 0xa1 && !singleExtensions) singleExtensions = f;
    else need(false, 'SingleResponse');
  }
  refuseCritical(singleExtensions, 'single response extension');

  const base = { thisUpdate, nextUpdate, signer: delegated ? ('delegated' as const) : ('issuer' as const), responder: delegated ? signer.subject : undefined };
  switch (certStatus.tag) {
    case 0x80:
      need(certStatus.value.length === 0, 'certStatus good');
      return { status: 'good', ...base };
    case 0x82:
      need(certStatus.value.length === 0, 'certStatus unknown');
      return { status: 'unknown', ...base };
    case 0xa1: {
      const [time, reasonWrapper] = kids(certStatus, 'RevokedInfo');
      const revokedAt = generalizedTime(time, 'revocationTime');
      let revocationReason: number | undefined;
      if (reasonWrapper) {
        const [reason] = kids(reasonWrapper, 'revocationReason');
        need(reasonWrapper.tag === 0xa0 && reason?.tag === 0x0a && reason.value.length === 1, 'revocationReason');
        revocationReason = reason.value[0];
      }
      return { status: 'revoked', revokedAt, revocationReason, ...base };
    }
    default:
      need(false, 'certStatus');
  }
}

/** Why the verdict is not current at `now`, or undefined when it is. */
export function ocspTimeProblem(
  v: Pick<OcspVerdict, 'thisUpdate' | 'nextUpdate'>,
  now: Date,
  opts: { skewMs?: number; maxAgeWithoutNextUpdateMs?: number } = {},
): string | undefined {
  const skew = opts.skewMs ?? DEFAULT_OCSP_SKEW_MS;
  if (v.thisUpdate.getTime() > now.getTime() + skew) return `the OCSP response is not valid before ${v.thisUpdate.toISOString()}`;
  if (v.nextUpdate) {
    if (v.nextUpdate.getTime() <= now.getTime()) return `the OCSP response is stale (nextUpdate ${v.nextUpdate.toISOString()})`;
    return undefined;
  }
  const maxAge = opts.maxAgeWithoutNextUpdateMs ?? DEFAULT_MAX_AGE_WITHOUT_NEXT_UPDATE_MS;
  if (v.thisUpdate.getTime() + maxAge < now.getTime()) return `the OCSP response is stale (no nextUpdate, thisUpdate ${v.thisUpdate.toISOString()})`;
  return undefined;
}
