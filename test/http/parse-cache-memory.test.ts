import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeys, mintCertificate, type MintedCert } from '../../src/pki/mint.js';
import { MAX_CERT_DER_BYTES, estimatedEntryBytes } from '../../src/pki/parsing/parse-cache.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The memory-growth report: refused logins, each with a different large self-signed certificate,
 * grew the gateway by ~220 KB apiece through the parse cache. Certificates over 16 KiB are now
 * refused before parsing, and what is parsed is bounded by the cache's entry and byte accounting
 * (observed here, not through process RSS).
 */
const HEADER = 'x-client-cert-der';
const CHAIN = 'x-client-chain-der';
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');

async function selfSigned(keys: CryptoKeyPair, i: number, sans: number): Promise<MintedCert> {
  const subject = `CN=flood-${i}`;
  const san = Array.from({ length: sans }, (_, j) => ({ type: 'dns' as const, value: `h${j}-${'x'.repeat(44)}.example.com` }));
  return mintCertificate({ subject, keys, signWith: keys.privateKey, issuerName: subject, serial: (0x2000 + i).toString(16), san });
}

describe('presented certificates and the parse cache', () => {
  let gw: TestGateway;
  let keys: CryptoKeyPair;
  let root: MintedCert;
  beforeAll(async () => {
    keys = await generateKeys('ec-p256');
    root = await mintCertificate({ subject: 'CN=Flood Root', ca: true });
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: HEADER, format: 'der-base64', chainHeader: CHAIN }],
      identities: [{ id: 'agents', caCertificate: root.pem, allowedCommonNames: ['agent-*'] }],
    });
  });
  afterAll(() => gw?.close());
  const parsedCertCache = () => gw.gateway.certs;

  it('refuses a certificate over 16 KiB with 400 certificate_too_large and caches nothing', async () => {
    const before = { size: parsedCertCache().size, bytes: parsedCertCache().bytes };
    for (let i = 0; i < 5; i++) {
      const big = await selfSigned(keys, i, 290);
      expect(big.der.length).toBeGreaterThan(MAX_CERT_DER_BYTES);
      const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { [HEADER]: b64(big.der) });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('certificate_too_large');
    }
    expect({ size: parsedCertCache().size, bytes: parsedCertCache().bytes }).toEqual(before);
  });

  it('refuses an oversized chain certificate before parsing the (small) leaf', async () => {
    const before = { size: parsedCertCache().size, bytes: parsedCertCache().bytes };
    const leaf = await selfSigned(keys, 50, 0);
    const big = await selfSigned(keys, 51, 290);
    const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { [HEADER]: b64(leaf.der), [CHAIN]: b64(big.der) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('certificate_too_large');
    expect({ size: parsedCertCache().size, bytes: parsedCertCache().bytes }).toEqual(before);
  });

  it('refused logins with distinct certificates under the limit grow the cache only by its accounting, within budget', async () => {
    const before = parsedCertCache().bytes;
    let added = 0;
    for (let i = 100; i < 130; i++) {
      const cert = await selfSigned(keys, i, 100);
      // A client certificate is kept only from its second login on (src/http/leaf-admission.ts):
      // the first one parses it and keeps nothing.
      const once = parsedCertCache().bytes;
      expect((await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { [HEADER]: b64(cert.der) })).status).toBe(401);
      expect(parsedCertCache().bytes).toBe(once);
      const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'agents' }, { [HEADER]: b64(cert.der) });
      expect(res.status).toBe(401);
      added += estimatedEntryBytes(cert.der.length);
    }
    // Each parsed certificate is accounted at its estimated size, and the total stays within budget.
    expect(parsedCertCache().bytes).toBe(before + added);
    expect(parsedCertCache().bytes).toBeLessThanOrEqual(parsedCertCache().maxBytes);
    expect(parsedCertCache().size).toBeLessThanOrEqual(parsedCertCache().maxEntries);
  });
});
