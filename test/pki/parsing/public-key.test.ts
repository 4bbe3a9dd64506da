import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../helpers/seeded-random.js';
import { readNode, tlv } from '../../../src/pki/parsing/der.js';
import { directKeyInfo, keyInfoFromOpenSsl, keyInfoOf, publicKeyObject, spkiOf } from '../../../src/pki/parsing/public-key.js';
import { parseCertificate } from '../../../src/pki/parsing/certificate.js';
import { mintCertificate } from '../../../src/pki/mint.js';
import { oidBytes } from './equivalence.js';
import { MALFORMED_DSA_SPKI } from '../../helpers/resign.js';

/**
 * keyInfoOf reads the common keys from the SPKI's bytes; OpenSSL loading the same SPKI is the
 * reference. Every case — generated keys of each kind and hand-made edges on both sides of the
 * subset — must read the same both ways, and the common ones must be read without OpenSSL.
 */

const node = (der: Uint8Array) => readNode(der).node;
const viaOpenSsl = (der: Uint8Array) =>
  keyInfoFromOpenSsl(() => createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }), node(der));
const bytes = (...b: number[]) => Uint8Array.from(b);
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const OID = (o: string) => tlv(0x06, oidBytes(o));
const spkiDer = (type: string, opts: object = {}) =>
  new Uint8Array((generateKeyPairSync as (t: string, o: object) => { publicKey: { export(o: object): Buffer } })(type, opts).publicKey.export({ type: 'spki', format: 'der' }));

const P256 = '1.2.840.10045.3.1.7';
const P256_P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const EC = '1.2.840.10045.2.1';
const RSA = '1.2.840.113549.1.1.1';
const big = (n: bigint, len: number) => Uint8Array.from(Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex'));
const ecSpki = (point: Uint8Array, params: Uint8Array = OID(P256), unused = 0) => seq(seq(OID(EC), params), tlv(0x03, bytes(unused), point));
const rsaSpki = (n: Uint8Array, e: Uint8Array, params: Uint8Array[] = [tlv(0x05)]) =>
  seq(seq(OID(RSA), ...params), tlv(0x03, bytes(0), seq(tlv(0x02, n), tlv(0x02, e))));

type Case = [label: string, der: () => Uint8Array, direct: boolean];

let p256: Uint8Array;
let rsa2048: Uint8Array;
const point = () => node(p256).value.subarray(node(p256).value.length - 65);
const modulus = () => {
  const bits = readNode(node(rsa2048).value, node(node(rsa2048).value).raw.length).node.value.subarray(1);
  return readNode(node(bits).value).node.value;
};

const CASES: Case[] = [
  ['EC P-256', () => p256, true],
  ['EC P-384', () => spkiDer('ec', { namedCurve: 'P-384' }), true],
  ['EC P-521 (OpenSSL reads it)', () => spkiDer('ec', { namedCurve: 'P-521' }), false],
  ['EC secp256k1 (OpenSSL reads it)', () => spkiDer('ec', { namedCurve: 'secp256k1' }), false],
  ['RSA 2048, e = 65537', () => rsa2048, true],
  ['RSA 3072, e = 3', () => spkiDer('rsa', { modulusLength: 3072, publicExponent: 3 }), true],
  ['RSA 1024', () => spkiDer('rsa', { modulusLength: 1024 }), true],
  ['RSA 2047 bits', () => spkiDer('rsa', { modulusLength: 2047 }), true],
  ['RSA-PSS key (OpenSSL reads it)', () => spkiDer('rsa-pss', { modulusLength: 2048 }), false],
  ['Ed25519', () => spkiDer('ed25519'), true],
  ['Ed448 (OpenSSL reads it)', () => spkiDer('ed448'), false],
  ['X25519 (OpenSSL reads it)', () => spkiDer('x25519'), false],
  ['DSA (OpenSSL reads it)', () => spkiDer('dsa', { modulusLength: 2048, divisorLength: 256 }), false],
  // EC points.
  ['a point off the curve (y + 1): unknown, as OpenSSL refuses to load it', () => {
    const pt = Uint8Array.from(point());
    pt[64]! ^= 1;
    return ecSpki(pt);
  }, true],
  ['x = p (not below the field prime)', () => ecSpki(Uint8Array.from([4, ...big(P256_P, 32), ...point().subarray(33)])), true],
  // OpenSSL loads it; asking node:crypto for its details would abort the process.
  ['the point at infinity: unknown', () => ecSpki(bytes(0)), false],
  ['a compressed point (OpenSSL reads it)', () => {
    const pt = point();
    return ecSpki(Uint8Array.from([2 + (pt[64]! & 1), ...pt.subarray(1, 33)]));
  }, false],
  ['a point one octet short', () => ecSpki(point().subarray(0, 64)), false],
  ['unused bits in the key BIT STRING', () => ecSpki(point(), OID(P256), 3), false],
  ['explicit curve parameters', () => ecSpki(point(), seq(tlv(0x02, bytes(1)))), false],
  ['no curve parameters', () => seq(seq(OID(EC)), tlv(0x03, bytes(0), point())), false],
  // RSA encodings.
  ['RSA without the NULL parameter', () => rsaSpki(modulus(), bytes(1, 0, 1), []), false],
  ['RSA with a non-NULL parameter', () => rsaSpki(modulus(), bytes(1, 0, 1), [tlv(0x02, bytes(0))]), false],
  ['RSA exponent 1', () => rsaSpki(modulus(), bytes(1)), false],
  ['RSA exponent 2^31 + 1', () => rsaSpki(modulus(), bytes(0, 0x80, 0, 0, 1)), true],
  ['RSA exponent with a padding octet', () => rsaSpki(modulus(), bytes(0, 1, 0, 1)), false],
  ['RSA negative modulus', () => rsaSpki(modulus().subarray(1), bytes(1, 0, 1)), false],
  ['RSA modulus of 480 bits', () => rsaSpki(Uint8Array.from([0, ...modulus().subarray(1, 61)]), bytes(1, 0, 1)), false],
  ['RSA key with a third INTEGER', () => seq(seq(OID(RSA), tlv(0x05)), tlv(0x03, bytes(0), seq(tlv(0x02, modulus()), tlv(0x02, bytes(3)), tlv(0x02, bytes(3))))), false],
  // Ed25519 encodings.
  ['Ed25519 key of 31 octets', () => seq(seq(OID('1.3.101.112')), tlv(0x03, bytes(0), new Uint8Array(31).fill(7))), false],
  ['Ed25519 with a NULL parameter', () => seq(seq(OID('1.3.101.112'), tlv(0x05)), tlv(0x03, bytes(0), new Uint8Array(32).fill(7))), false],
  ['an unknown algorithm', () => seq(seq(OID('1.2.3.4')), tlv(0x03, bytes(0, 1, 2))), false],
  // OpenSSL loads it; asking node:crypto for its details would abort the process.
  ['a DSA key cut short inside its BIT STRING', () => MALFORMED_DSA_SPKI, false],
];

describe('keyInfoOf (a certificate key read without OpenSSL where it is common)', () => {
  beforeAll(() => {
    p256 = spkiDer('ec', { namedCurve: 'P-256' });
    rsa2048 = spkiDer('rsa', { modulusLength: 2048 });
  });

  it.each(CASES)('%s: the same details as OpenSSL reports', (_label, make, direct) => {
    const der = make();
    expect(keyInfoOf(node(der))).toStrictEqual(viaOpenSsl(der));
    expect(directKeyInfo(node(der)) !== undefined).toBe(direct);
  });

  it('cases cover both of OpenSSL\'s verdicts on the direct side, and keys it cannot load on the other', () => {
    const direct = CASES.filter(([, , d]) => d).map(([, make]) => viaOpenSsl(make()).algorithm);
    expect(direct).toContain('unknown');
    expect(direct).toContain('ec');
    const other = CASES.filter(([, , d]) => !d).map(([, make]) => viaOpenSsl(make()).algorithm);
    expect(other).toContain('unknown');
  });

  it('reads no details of a key type the policy refuses by name (node aborts on some malformed ones)', () => {
    for (const [type, der] of [['dsa', spkiDer('dsa', { modulusLength: 2048, divisorLength: 256 })], ['dsa', MALFORMED_DSA_SPKI], ['x25519', spkiDer('x25519')], ['ed448', spkiDer('ed448')]] as const) {
      expect(keyInfoOf(node(der))).toStrictEqual({ algorithm: type });
    }
  });

  it('for mutated keys of each kind: the same details as OpenSSL reports', () => {
    const rand = seededRandom(0x4b3);
    let direct = 0;
    // DSA and explicit-curve EC too: keys of types the policy refuses, some of whose malformed
    // forms made node:crypto abort the process when their details were read.
    const explicitEc = () => spkiDer('ec', { namedCurve: 'P-256', paramEncoding: 'explicit' });
    const dsa = () => spkiDer('dsa', { modulusLength: 1024, divisorLength: 160 });
    for (const make of [() => p256, () => rsa2048, () => spkiDer('ed25519'), () => spkiDer('ec', { namedCurve: 'P-384' }), explicitEc, dsa]) {
      const original = make();
      for (let i = 0; i < 300; i++) {
        const der = Uint8Array.from(original);
        der[Math.floor(rand() * der.length)] = Math.floor(rand() * 256);
        let n;
        try {
          n = node(der);
        } catch {
          continue; // not one element any more: never reaches keyInfoOf (the certificate is refused first)
        }
        if (n.raw.length !== der.length || n.tag !== 0x30) continue;
        expect(keyInfoOf(n), `mutant ${i}`).toStrictEqual(viaOpenSsl(der));
        if (directKeyInfo(n)) direct++;
      }
    }
    expect(direct).toBeGreaterThan(300);
  });
});

describe('publicKeyObject', () => {
  it('loads a certificate\'s key once and hands out the same object', async () => {
    const minted = await mintCertificate({ subject: 'CN=k', keyAlg: 'ec-p384' });
    const cert = parseCertificate(minted.der);
    const key = publicKeyObject(cert);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(publicKeyObject(cert)).toBe(key);
    expect(Buffer.from(spkiOf(cert.der).raw)).toEqual(key.export({ type: 'spki', format: 'der' }));
  });

  it('throws for a key OpenSSL cannot load, as X509Certificate#publicKey did', async () => {
    const minted = await mintCertificate({ subject: 'CN=k' });
    const der = Uint8Array.from(minted.der);
    const spki = spkiOf(der);
    der[spki.raw.byteOffset - der.byteOffset + spki.raw.length - 1]! ^= 1;
    const cert = parseCertificate(der);
    expect(cert.publicKey.algorithm).toBe('unknown');
    expect(() => publicKeyObject(cert)).toThrow();
  });
});
