import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_FORMATS } from '../../src/proxy/types.js';
import { LOGIN_PATH, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/** Raw HTTP so arbitrary header bytes go out exactly as generated (fetch would normalise them). */
function send(url: string, method: string, path: string, headers: Record<string, string>, body: string, localAddress?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url + path, { method, headers, localAddress }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: t }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Whatever a client or a terminator sends — any header value in any configured format, any body,
 * any bearer string — the answer is a 2xx or a 4xx in the contract's shape, never a 500.
 */
/** The loopback address each format's trusted-proxy entry owns. */
const peerOf = (format: (typeof HEADER_FORMATS)[number]) => `127.0.1.${HEADER_FORMATS.indexOf(format) + 1}`;

describe('arbitrary input never yields a 500', () => {
  let gw: TestGateway;
  let valid: string;
  beforeAll(async () => {
    const pki = await makeTestPki();
    valid = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    gw = await startTestGateway({
      // Every format at once, each on its own header and its own loopback address (one entry per
      // peer; XFCC carries its chain inside).
      trustedProxies: HEADER_FORMATS.map((format) =>
        format === 'envoy-xfcc'
          ? { cidrs: [`${peerOf(format)}/32`], header: 'x-forwarded-client-cert', format }
          : { cidrs: [`${peerOf(format)}/32`], header: `x-cert-${format}`, format, chainHeader: `x-chain-${format}` },
      ),
      identities: [{ id: 'agents', caCertificate: pki.rootA.pem + pki.interA.pem }],
    });
  });
  afterAll(() => gw?.close());

  // Header values must be legal HTTP field content for Node to send them.
  const fieldValue = fc.string({ unit: fc.constantFrom(...'ABCabc019+/=%:-_.,;"\\ {}()[]@'.split('')), maxLength: 300 });
  const headerName = fc.constantFrom(...HEADER_FORMATS.map((f) => (f === 'envoy-xfcc' ? 'x-forwarded-client-cert' : `x-cert-${f}`)), ...HEADER_FORMATS.filter((f) => f !== 'envoy-xfcc').map((f) => `x-chain-${f}`));

  const okShape = (r: { status: number; body: string }) => {
    expect(r.status).toBeLessThan(500);
    if (r.status >= 400) {
      const b = JSON.parse(r.body);
      expect(b.statusCode).toBe(r.status);
      expect(typeof b.error).toBe('string');
    }
  };

  it('login with arbitrary forwarded headers and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...HEADER_FORMATS), fc.dictionary(headerName, fieldValue, { maxKeys: 3 }), fc.oneof(fc.string({ maxLength: 200 }), fc.json()), async (from, headers, body) => {
        okShape(await send(gw.url, 'POST', LOGIN_PATH, { 'content-type': 'application/json', ...headers }, body, peerOf(from)));
      }),
      { numRuns: 300 },
    );
  });

  it('a valid certificate with an arbitrary body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.json()), async (body) => {
        okShape(await send(gw.url, 'POST', LOGIN_PATH, { 'x-cert-nginx': valid, 'content-type': 'application/json' }, body, peerOf('nginx')));
      }),
      { numRuns: 150 },
    );
  });

  it('protected endpoints with arbitrary bearer strings', async () => {
    const paths = ['/api/v1/auth/token/self', '/api/v1/auth/forward', '/api/v1/auth/forward/any/path', '/api/v1/auth/token/renew', '/api/v1/auth/token/revoke', '/oauth2/introspect', '/api/v1/admin/identities'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fieldValue, fc.string({ maxLength: 200 }), async (path, auth, body) => {
        const method = /renew|revoke|introspect/.test(path) ? 'POST' : 'GET';
        okShape(await send(gw.url, method, path, { authorization: auth, 'content-type': 'application/json' }, method === 'POST' ? body : ''));
      }),
      { numRuns: 300 },
    );
  });
});
