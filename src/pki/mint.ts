// @peculiar/x509 2 needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { tlv } from './parsing/der.js';
import { cidrToConstraintBytes, ipToBytes } from './parsing/ip.js';

/**
 * Certificate minting for the dev-PKI generator and for tests. Every knob exists so a test can
 * build exactly the broken certificate it needs (forged issuer, missing extensions, weak key).
 */

export type KeyAlg = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-1024' | 'ed25519';
export interface SanEntry { type: 'dns' | 'uri' | 'email' | 'ip'; value: string }
export interface MintOptions {
  subject: string;
  issuer?: MintedCert;
  signWith?: CryptoKey;
  issuerName?: string;
  keyAlg?: KeyAlg;
  keys?: CryptoKeyPair;
  notBefore?: Date;
  notAfter?: Date;
  serial?: string;
  ca?: boolean;
  pathLen?: number;
  omitBasicConstraints?: boolean;
  keyUsage?: number;
  omitKeyUsage?: boolean;
  eku?: string[];
  san?: SanEntry[];
  nameConstraints?: { permitted?: SanEntry[]; excluded?: SanEntry[] };
  crlDistributionPoints?: string[];
  /** authorityInfoAccess id-ad-ocsp URL (the OCSP responder). */
  ocspUrl?: string;
  /** Hex keyIdentifier of the authority key identifier, when neither `issuer` nor self-signing gives one. */
  authorityKeyId?: string;
  /** Overrides the signature algorithm derived from the signing key (e.g. RSA-PSS with a given salt). */
  signingAlgorithm?: Algorithm;
}
export interface MintedCert {
  der: Uint8Array;
  pem: string;
  keys: CryptoKeyPair;
  /** PKCS#8 PEM, usable by node:tls and curl. */
  keyPem: string;
  subject: string;
  cert: x509.X509Certificate;
}

// Passed explicitly to every @peculiar/x509 call instead of mutating its global provider.
const crypto = webcrypto as unknown as Crypto;

const EKU_NAMES: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0',
};

const KEYGEN: Record<KeyAlg, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams,
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams,
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'rsa-1024': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ed25519: { name: 'Ed25519' },
};

export async function generateKeys(alg: KeyAlg): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(KEYGEN[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The signature algorithm follows the signing key: ECDSA hash by curve size, RSA/EdDSA from the key. */
function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  if (key.algorithm.name === 'ECDSA') {
    const curve = (key.algorithm as EcKeyAlgorithm).namedCurve;
    return { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' } as EcdsaParams;
  }
  return { name: key.algorithm.name };
}

function randomSerial(): string {
  const b = randomBytes(16);
  // Positive and without a leading zero octet, so the DER INTEGER is exactly 16 bytes.
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b.toString('hex');
}

/** One GeneralName of a subjectAltName. */
function sanName(e: SanEntry): Uint8Array {
  if (e.type !== 'ip') return constraintName(e);
  const ip = ipToBytes(e.value);
  if (!ip) throw new Error(`not an IP address: ${e.value}`);
  return tlv(0x87, ip);
}

/** One GeneralName for a name-constraint subtree (IP values are CIDRs: address + mask). */
function constraintName(e: SanEntry): Uint8Array {
  const ascii = (s: string) => new TextEncoder().encode(s);
  switch (e.type) {
    case 'email': return tlv(0x81, ascii(e.value));
    case 'dns': return tlv(0x82, ascii(e.value));
    case 'uri': return tlv(0x86, ascii(e.value));
    case 'ip': return tlv(0x87, cidrToConstraintBytes(e.value));
  }
}

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0], excludedSubtrees [1] } of GeneralSubtree. */
function nameConstraintsExtension(nc: NonNullable<MintOptions['nameConstraints']>): x509.Extension {
  const subtrees = (tag: number, list: SanEntry[] | undefined) =>
    list && list.length ? [tlv(tag, ...list.map((e) => tlv(0x30, constraintName(e))))] : [];
  const value = tlv(0x30, ...subtrees(0xa0, nc.permitted), ...subtrees(0xa1, nc.excluded));
  return new x509.Extension('2.5.29.30', true, value);
}

function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

export async function mintCertificate(opts: MintOptions): Promise<MintedCert> {
  const keys = opts.keys ?? (await generateKeys(opts.keyAlg ?? 'ec-p256'));
  const ca = opts.ca ?? false;
  const now = Date.now();
  const signingKey = opts.signWith ?? opts.issuer?.keys.privateKey ?? keys.privateKey;

  const extensions: x509.Extension[] = [];
  if (!opts.omitBasicConstraints) extensions.push(new x509.BasicConstraintsExtension(ca, opts.pathLen, true));
  if (!opts.omitKeyUsage) {
    const ku = opts.keyUsage ?? (ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature);
    extensions.push(new x509.KeyUsagesExtension(ku, true));
  }
  const eku = opts.eku ?? (ca ? [] : ['clientAuth']);
  if (eku.length) extensions.push(new x509.ExtendedKeyUsageExtension(eku.map((u) => EKU_NAMES[u] ?? u), false));
  if (opts.san?.length) {
    // Encoded here: @peculiar/x509 garbles dotted IPv4-mapped IPv6 literals (::ffff:10.1.2.3).
    extensions.push(new x509.Extension('2.5.29.17', false, tlv(0x30, ...opts.san.map(sanName))));
  }
  if (opts.nameConstraints) extensions.push(nameConstraintsExtension(opts.nameConstraints));
  if (opts.crlDistributionPoints?.length) extensions.push(new x509.CRLDistributionPointsExtension(opts.crlDistributionPoints, false));
  if (opts.ocspUrl) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: opts.ocspUrl }, false));
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto);
  extensions.push(ski);
  // AKI names the issuer's key: the issuer's own SKI when it has one, our SKI when self-signed.
  const issuerSki = opts.issuer?.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const akiId = opts.authorityKeyId ?? (opts.issuer ? issuerSki : opts.signWith ? undefined : ski.keyId);
  if (akiId) extensions.push(new x509.AuthorityKeyIdentifierExtension(akiId, false));

  const subject = new x509.Name(opts.subject);
  // The issuer's subject is copied as raw DER so DN byte comparison in path building matches.
  const issuer = opts.issuerName !== undefined
    ? new x509.Name(opts.issuerName)
    : opts.issuer ? new x509.Name(opts.issuer.cert.subjectName.toArrayBuffer()) : subject;

  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: opts.serial ?? randomSerial(),
      subject,
      issuer,
      notBefore: opts.notBefore ?? new Date(now - 3600_000),
      notAfter: opts.notAfter ?? new Date(now + 365 * 86400_000),
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: opts.signingAlgorithm ?? signingAlgorithm(signingKey),
      extensions,
    },
    crypto,
  );
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { der, pem: toPem('CERTIFICATE', der), keys, keyPem: toPem('PRIVATE KEY', pkcs8), subject: opts.subject, cert };
}
