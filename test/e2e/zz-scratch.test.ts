import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it, expect } from 'vitest';
import { makeTestPki, writePem } from '../helpers/pki.js';
import { makeTempDir } from '../helpers/launcher.js';
import { startTerminator, TERMINATOR_PRODUCTS } from '../helpers/terminators.js';
import { curlClient } from './clients.js';

it.each(TERMINATOR_PRODUCTS)('scratch %s', async (product) => {
  const pki = await makeTestPki();
  const leaf = await pki.leaf({ cn: 'agent-1' });
  const dir = makeTempDir();
  const server = createServer((req, res) => { res.end(JSON.stringify({ peer: req.socket.remoteAddress, headers: req.headersDistinct })); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const t = await startTerminator(product, { upstream: `127.0.0.1:${port}`, serverCertPem: pki.server.pem, serverKeyPem: pki.server.keyPem, clientCaPem: pki.rootA.pem });
  const c = curlClient(writePem(dir, 'ca.pem', pki.rootA.pem));
  const creds = { certPem: leaf.pem + pki.interA.pem, keyPem: leaf.keyPem, certFile: writePem(dir, 'l.pem', leaf.pem + pki.interA.pem), keyFile: writePem(dir, 'k.pem', leaf.keyPem) };
  const r1 = await c.call({ method: 'GET', url: t.url + '/x', creds, headers: { 'X-SSL-Client-Cert': ['forged', 'forged2'], 'x-client-cert': 'forged', 'X-Forwarded-For': '1.2.3.4' }, localAddress: '127.0.0.5' });
  const r2 = await c.call({ method: 'GET', url: t.url + '/x', headers: { 'X-SSL-Client-Cert': ['forged', 'forged2'], 'x-client-cert': 'forged', 'X-Forwarded-For': '1.2.3.4', 'X-SSL-Client-Chain-0': 'f', 'x-ssl-client-verify': 'SUCCESS' }, localAddress: '127.0.0.5' });
  const cut = (b: any) => JSON.stringify(b, (k, v) => (typeof v === 'string' && v.length > 80 ? v.slice(0, 40) + '…' + v.slice(-20) : v), 1);
  console.log(product, r1.status, cut(r1.body), r2.status, cut(r2.body));
  await t.stop();
  server.close();
  expect(r1.status).toBe(200);
});
