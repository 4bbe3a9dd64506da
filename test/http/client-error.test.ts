/**
 * Requests Node's HTTP parser refuses (bad request line, oversized or invalid headers) are answered
 * in the contract's JSON error shape on both listeners, never as a bare 400. Raw sockets: no HTTP
 * client would send these.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/launcher.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, writePem } from '../helpers/pki.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Writes `bytes`, reads until the server closes, parses the one answer. */
function exchange(open: () => import('node:net').Socket, bytes: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sock = open();
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => (data += d));
    sock.on('error', reject);
    sock.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const text = rest.join('\r\n\r\n');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // left as text: the assertion shows it
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    sock.write(bytes);
  });
}

const CASES: [string, string, number, string][] = [
  ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400, 'malformed_request'],
  ['a control character in the path', 'GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'malformed_request'],
  ['a bad HTTP version', 'GET / HTTP/9.Z\r\nHost: x\r\n\r\n', 400, 'malformed_request'],
  ['a space in a header name', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 400, 'malformed_request'],
  ['a control character in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', 400, 'malformed_request'],
  ['a header section over the limit', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 431, 'request_header_too_large'],
  ['many headers over the limit', `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}\r\n`).join('')}\r\n`, 431, 'request_header_too_large'],
];

describe('errors of the HTTP parser in the contract\'s shape', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    const pki = await makeTestPki();
    const dir = makeTempDir();
    writePem(dir, 'server.pem', pki.server.pem);
    writePem(dir, 'server-key.pem', pki.server.keyPem);
    gw = await startTestGateway({ server: { tls: { port: 0, cert: 'server.pem', key: 'server-key.pem' } } }, { baseDir: dir });
  });
  afterAll(() => gw?.close());

  const listeners = {
    'plain HTTP': () => netConnect({ host: '127.0.0.1', port: gw.httpPort }),
    'direct TLS': () => tlsConnect({ host: '127.0.0.1', port: gw.tlsPort!, rejectUnauthorized: false }),
  };

  describe.each(Object.keys(listeners) as (keyof typeof listeners)[])('%s listener', (listener) => {
    it.each(CASES)('%s: %i %s as JSON', async (_what, bytes, status, code) => {
      const r = await exchange(listeners[listener], bytes);
      expect(r.status).toBe(status);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers['connection']).toBe('close');
      expect(r.body).toEqual({ statusCode: status, error: code, message: expect.any(String), reqId: expect.any(String) });
      expect(r.headers['x-request-id']).toBe(r.body.reqId);
    });

    it('a well-formed request on the same listener is still served', async () => {
      const r = await exchange(listeners[listener], 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(r.status).toBe(200);
    });
  });
});
