import { createHash, webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { MintedCert } from '../../src/pki/mint.js';

/**
 * An OCSP responder for tests, written independently of src/pki/formats/ocsp.ts with pkijs: it decodes
 * the gateway's OCSPRequest, and answers with a BasicOCSPResponse built and signed by pkijs.
 */

export const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });
export const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';

export interface OcspAnswer {
  status?: 'good' | 'revoked' | 'unknown';
  /** Whose certificate the responderID names (and, unless `signWith`, whose key signs). */
  signer: MintedCert;
  /** Signs with this key instead of the signer's (a forged answer). */
  signWith?: CryptoKey;
  /** responderID byKey instead of byName. */
  byKey?: boolean;
  /** Carried in BasicOCSPResponse.certs (a delegated responder's certificate). */
  certs?: MintedCert[];
  thisUpdate: Date;
  nextUpdate?: Date;
  revokedAt?: Date;
  /** Answers for a serial one higher than the one asked for. */
  wrongSerial?: boolean;
  /** A non-successful OCSPResponseStatus (3 = tryLater, 6 = unauthorized …). */
  responseStatus?: number;
}

/** The serial number of a CertID, lowercase hex without leading zero octets. */
export function serialHex(certId: pkijs.CertID): string {
  return Buffer.from(certId.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^(00)+(?=..)/, '');
}

function certStatus(a: OcspAnswer): asn1js.BaseBlock {
  switch (a.status ?? 'good') {
    case 'good':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: new ArrayBuffer(0) });
    case 'unknown':
      return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 }, valueHex: new ArrayBuffer(0) });
    case 'revoked':
      return new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 1 },
        value: [new asn1js.GeneralizedTime({ valueDate: a.revokedAt ?? a.thisUpdate })],
      });
  }
}

/** DER OCSPResponse answering `certId` as `a` says. */
export async function makeOcspResponse(certId: pkijs.CertID, a: OcspAnswer): Promise<Uint8Array> {
  if (a.responseStatus !== undefined) {
    return new Uint8Array(new pkijs.OCSPResponse({ responseStatus: new asn1js.Enumerated({ value: a.responseStatus }) }).toSchema().toBER(false));
  }
  let id = certId;
  if (a.wrongSerial) {
    let hex = (BigInt('0x' + (serialHex(certId) || '0')) + 1n).toString(16);
    if (hex.length % 2) hex = '0' + hex;
    if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = '00' + hex;
    id = new pkijs.CertID({
      hashAlgorithm: certId.hashAlgorithm,
      issuerNameHash: certId.issuerNameHash,
      issuerKeyHash: certId.issuerKeyHash,
      serialNumber: new asn1js.Integer({ valueHex: Buffer.from(hex, 'hex') }),
    });
  }
  const signer = pkijs.Certificate.fromBER(new Uint8Array(a.signer.der));
  const responderID = a.byKey
    ? new asn1js.OctetString({ valueHex: createHash('sha1').update(signer.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest() })
    : signer.subject;
  const basic = new pkijs.BasicOCSPResponse({
    tbsResponseData: new pkijs.ResponseData({
      responderID,
      producedAt: a.thisUpdate,
      // pkijs fills in an absent key with a default, so nextUpdate is set only when there is one.
      responses: [new pkijs.SingleResponse({ certID: id, certStatus: certStatus(a), thisUpdate: a.thisUpdate, ...(a.nextUpdate ? { nextUpdate: a.nextUpdate } : {}) })],
    }),
    certs: a.certs?.map((c) => pkijs.Certificate.fromBER(new Uint8Array(c.der))),
  });
  await basic.sign(a.signWith ?? a.signer.keys.privateKey, 'SHA-256', engine);
  return new Uint8Array(
    new pkijs.OCSPResponse({
      responseStatus: new asn1js.Enumerated({ value: 0 }),
      responseBytes: new pkijs.ResponseBytes({
        responseType: '1.3.6.1.5.5.7.48.1.1',
        response: new asn1js.OctetString({ valueHex: basic.toSchema().toBER(false) }),
      }),
    }).toSchema().toBER(false),
  );
}

export interface OcspRequestSeen {
  path: string;
  method: string;
  contentType: string | undefined;
  serial: string;
}

/**
 * A responder on 127.0.0.1: `routes[path](serial)` decides the answer for each request; requests
 * are recorded (path, method, content type, serial asked for).
 */
export interface OcspResponder {
  base: string;
  url(path: string): string;
  routes: Map<string, (serial: string) => OcspAnswer>;
  requests: OcspRequestSeen[];
  hits(path: string): number;
  stop(): Promise<void>;
}

export async function startOcspResponder(): Promise<OcspResponder> {
  const routes = new Map<string, (serial: string) => OcspAnswer>();
  const requests: OcspRequestSeen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = (req.url ?? '/').split('?')[0]!;
        const route = routes.get(path);
        let certId: pkijs.CertID;
        try {
          const ocspReq = pkijs.OCSPRequest.fromBER(new Uint8Array(Buffer.concat(chunks)));
          certId = ocspReq.tbsRequest.requestList[0]!.reqCert;
        } catch {
          requests.push({ path, method: req.method ?? '', contentType: req.headers['content-type'], serial: '' });
          res.writeHead(400).end();
          return;
        }
        const serial = serialHex(certId);
        requests.push({ path, method: req.method ?? '', contentType: req.headers['content-type'], serial });
        if (!route) {
          res.writeHead(404).end();
          return;
        }
        const body = await makeOcspResponse(certId, route(serial));
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': body.length }).end(Buffer.from(body));
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    url: (p) => base + p,
    routes,
    requests,
    hits: (p) => requests.filter((r) => r.path === p).length,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
