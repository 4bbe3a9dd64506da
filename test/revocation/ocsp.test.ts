import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, type ParsedCert } from '../../src/pki/parsing/certificate.js';
import { mintCertificate } from '../../src/pki/mint.js';
import { buildOcspRequest, OcspError, ocspTimeProblem, ocspUrlsOf, verifyOcspResponse } from '../../src/pki/formats/ocsp.js';
import { createOcspFetcher, type OcspFetcher } from '../../src/revocation/ocsp-fetch.js';
import { makeTestPki, type MintedCert, type TestPki } from '../helpers/pki.js';
import { closedPort, DAY, HOUR } from './crl-fixtures.js';
import { engine, makeOcspResponse, OCSP_SIGNING, type OcspAnswer } from './ocsp-fixtures.js';

/** src/pki/formats/ocsp.ts against answers built by pkijs, and the OCSP fetcher against node:http. */

const now = new Date();
let pki: TestPki;
let leaf: MintedCert;
let leafP: ParsedCert;
let issuerP: ParsedCert;

beforeAll(async () => {
  pki = await makeTestPki();
  leaf = await pki.leaf({ cn: 'agent-1', ocspUrl: 'http://ocsp.example/ca' });
  leafP = parseCertificate(leaf.der);
  issuerP = parseCertificate(pki.interA.der);
});

/** The CertID pkijs computes for the leaf (what a responder would look up). */
const certIdOf = async (cert: MintedCert = leaf, issuer: MintedCert = pki.interA) =>
  pkijs.CertID.create(pkijs.Certificate.fromBER(new Uint8Array(cert.der)), { hashAlgorithm: 'SHA-1', issuerCertificate: pkijs.Certificate.fromBER(new Uint8Array(issuer.der)) }, engine);

const fresh = { thisUpdate: new Date(now.getTime() - HOUR), nextUpdate: new Date(now.getTime() + DAY) };
async function verify(a: Partial<OcspAnswer>, cert: MintedCert = leaf) {
  const response = await makeOcspResponse(await certIdOf(cert), { signer: pki.interA, ...fresh, ...a });
  return verifyOcspResponse({ response, cert: parseCertificate(cert.der), issuer: issuerP, now });
}
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: Error) => {
      expect(e).toBeInstanceOf(OcspError);
      return e.message;
    },
  );

describe('OCSP request', () => {
  it('holds one SHA-1 CertID for (leaf, issuer), the one pkijs computes', async () => {
    const req = pkijs.OCSPRequest.fromBER(new Uint8Array(buildOcspRequest(leafP, issuerP)));
    expect(req.tbsRequest.requestList).toHaveLength(1);
    expect(req.tbsRequest.requestList[0]!.reqCert.isEqual(await certIdOf())).toBe(true);
    expect(req.tbsRequest.requestExtensions).toBeUndefined();
  });

  it('reads the OCSP URL of authorityInfoAccess', async () => {
    expect(ocspUrlsOf(leafP)).toEqual(['http://ocsp.example/ca']);
    expect(ocspUrlsOf(parseCertificate((await pki.leaf({ cn: 'agent-2' })).der))).toEqual([]);
  });
});

describe('verifyOcspResponse', () => {
  it('reads good, revoked and unknown answers signed by the issuer', async () => {
    expect(await verify({ status: 'good' })).toMatchObject({ status: 'good', signer: 'issuer', thisUpdate: fresh.thisUpdate, nextUpdate: fresh.nextUpdate });
    const revokedAt = new Date(now.getTime() - 2 * HOUR);
    expect(await verify({ status: 'revoked', revokedAt })).toMatchObject({ status: 'revoked', revokedAt });
    expect(await verify({ status: 'unknown' })).toMatchObject({ status: 'unknown' });
    // responderID byKey names the issuer too; nextUpdate is optional.
    expect(await verify({ byKey: true, nextUpdate: undefined })).toMatchObject({ status: 'good', nextUpdate: undefined });
  });

  it('accepts a delegated responder certificate issued by the issuer with EKU id-kp-OCSPSigning', async () => {
    const responder = await mintCertificate({ subject: 'CN=OCSP Responder', issuer: pki.interA, eku: [OCSP_SIGNING] });
    expect(await verify({ signer: responder, certs: [responder] })).toMatchObject({ status: 'good', signer: 'delegated', responder: 'CN=OCSP Responder' });
    expect(await verify({ signer: responder, certs: [responder], byKey: true, status: 'revoked' })).toMatchObject({ status: 'revoked', signer: 'delegated' });
  });

  it('refuses a delegated responder without the OCSPSigning EKU, from another CA, expired, or not carried', async () => {
    const noEku = await mintCertificate({ subject: 'CN=Not A Responder', issuer: pki.interA, eku: ['clientAuth'] });
    expect(await failure(verify({ signer: noEku, certs: [noEku] }))).toMatch(/lacks extended key usage id-kp-OCSPSigning/);
    const otherCa = await mintCertificate({ subject: 'CN=Root Responder', issuer: pki.rootA, eku: [OCSP_SIGNING] });
    expect(await failure(verify({ signer: otherCa, certs: [otherCa] }))).toMatch(/is not issued by "CN=Test Intermediate A/);
    const expired = await mintCertificate({ subject: 'CN=Old Responder', issuer: pki.interA, eku: [OCSP_SIGNING], notAfter: new Date(now.getTime() - HOUR) });
    expect(await failure(verify({ signer: expired, certs: [expired] }))).toMatch(/is not valid at/);
    const responder = await mintCertificate({ subject: 'CN=OCSP Responder', issuer: pki.interA, eku: [OCSP_SIGNING] });
    expect(await failure(verify({ signer: responder }))).toMatch(/signed by a responder that is neither/);
  });

  it('refuses answers signed by an unrelated key', async () => {
    // A self-made "responder" with the right EKU, not issued by the CA.
    const stranger = await mintCertificate({ subject: 'CN=Stranger Responder', eku: [OCSP_SIGNING] });
    expect(await failure(verify({ signer: stranger, certs: [stranger] }))).toMatch(/not issued by/);
    // An answer naming the CA but signed with another key.
    expect(await failure(verify({ signWith: stranger.keys.privateKey }))).toMatch(/signature does not verify with the key of "CN=Test Intermediate A/);
    // A forged delegation: right DN and EKU, signed by a key that is not the CA's.
    const forged = await mintCertificate({ subject: 'CN=Forged Responder', issuer: pki.interA, signWith: stranger.keys.privateKey, eku: [OCSP_SIGNING] });
    expect(await failure(verify({ signer: forged, certs: [forged] }))).toMatch(/is not signed by "CN=Test Intermediate A/);
  });

  it('refuses an answer whose CertID names another certificate', async () => {
    expect(await failure(verify({ wrongSerial: true }))).toMatch(/no answer for serial .* \(CertID does not match\)/);
    // An answer about another CA's certificate with the same serial does not match either.
    const other = await mintCertificate({ subject: 'CN=agent-1', issuer: pki.rootB, serial: leafP.serial });
    const response = await makeOcspResponse(await certIdOf(other, pki.rootB), { signer: pki.interA, ...fresh });
    expect(await failure(Promise.resolve().then(() => verifyOcspResponse({ response, cert: leafP, issuer: issuerP, now })))).toMatch(/CertID does not match/);
  });

  it('reports responder errors and malformed bytes', async () => {
    expect(await failure(verify({ responseStatus: 3 }))).toBe('the OCSP responder answered tryLater');
    expect(await failure(verify({ responseStatus: 6 }))).toBe('the OCSP responder answered unauthorized');
    const bad = (bytes: number[]) => failure(Promise.resolve().then(() => verifyOcspResponse({ response: new Uint8Array(bytes), cert: leafP, issuer: issuerP, now })));
    expect(await bad([])).toMatch(/^malformed OCSP response/);
    expect(await bad([0x30, 0x03, 0x0a, 0x01, 0x00])).toMatch(/^malformed OCSP response: responseBytes/);
    expect(await bad([0x30, 0x80, 0x00, 0x00])).toMatch(/^malformed OCSP response/);
  });
});

describe('ocspTimeProblem', () => {
  const t = now.getTime();
  it('wants thisUpdate <= now + 5 min and nextUpdate > now', () => {
    expect(ocspTimeProblem({ thisUpdate: new Date(t - HOUR), nextUpdate: new Date(t + HOUR) }, now)).toBeUndefined();
    expect(ocspTimeProblem({ thisUpdate: new Date(t + 60_000), nextUpdate: new Date(t + HOUR) }, now)).toBeUndefined();
    expect(ocspTimeProblem({ thisUpdate: new Date(t + 10 * 60_000), nextUpdate: new Date(t + HOUR) }, now)).toMatch(/not valid before/);
    expect(ocspTimeProblem({ thisUpdate: new Date(t - DAY), nextUpdate: new Date(t) }, now)).toMatch(/stale \(nextUpdate/);
  });
  it('without nextUpdate, an answer is current for an hour after its thisUpdate', () => {
    expect(ocspTimeProblem({ thisUpdate: new Date(t - 59 * 60_000) }, now)).toBeUndefined();
    expect(ocspTimeProblem({ thisUpdate: new Date(t - 61 * 60_000) }, now)).toMatch(/stale \(no nextUpdate/);
  });
});

describe('createOcspFetcher', () => {
  let server: Server;
  let base: string;
  let fetcher: OcspFetcher;
  const seen: { method?: string; type?: string; accept?: string; body: number[] }[] = [];
  const reason = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.message);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, type: req.headers['content-type'], accept: req.headers.accept, body: [...Buffer.concat(chunks)] });
        if (req.url === '/ok') res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(Buffer.from([1, 2, 3]));
        else if (req.url === '/big') res.writeHead(200).end(Buffer.alloc(5000));
        else if (req.url === '/moved') res.writeHead(307, { location: '/ok' }).end();
        else if (req.url === '/hang') return;
        else res.writeHead(500).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fetcher = createOcspFetcher({ timeoutMs: 400, maxBytes: 1024 });
  });
  afterAll(async () => {
    await fetcher?.close();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  });

  it('POSTs application/ocsp-request and returns the body of a 200', async () => {
    expect([...(await fetcher.post(`${base}/ok`, new Uint8Array([0x30, 0x00])))]).toEqual([1, 2, 3]);
    expect(seen.at(-1)).toEqual({ method: 'POST', type: 'application/ocsp-request', accept: 'application/ocsp-response', body: [0x30, 0x00] });
  });

  it('asks http responders only, follows no redirect, and names the status', async () => {
    expect(await reason(fetcher.post('https://127.0.0.1/ocsp', new Uint8Array()))).toMatch(/only http OCSP responders are supported, not https:/);
    expect(await reason(fetcher.post('ldap://dir.example/', new Uint8Array()))).toMatch(/only http OCSP/);
    expect(await reason(fetcher.post(`${base}/moved`, new Uint8Array()))).toBe('HTTP 307');
    expect(await reason(fetcher.post(`${base}/fail`, new Uint8Array()))).toBe('HTTP 500');
  });

  it('bounds size and time, and reports a refused connection', async () => {
    expect(await reason(fetcher.post(`${base}/big`, new Uint8Array()))).toMatch(/larger than 1024 bytes/);
    const t = Date.now();
    expect(await reason(fetcher.post(`${base}/hang`, new Uint8Array()))).toMatch(/timed out after 400 ms/);
    expect(Date.now() - t).toBeLessThan(3000);
    expect(await reason(fetcher.post(`http://127.0.0.1:${await closedPort()}/`, new Uint8Array()))).toMatch(/ECONNREFUSED/);
  });
});
