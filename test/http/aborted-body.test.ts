import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { LOGIN_PATH } from '../helpers/gateway.js';
import { waitUntil } from '../helpers/launcher.js';
import { makeTestPki } from '../helpers/pki.js';

/**
 * A client that closes its connection in the middle of a login's body (a load generator stopping,
 * a workload killed) is an incomplete request, refused and audited as such (`invalid_body`), never
 * logged as a gateway failure ("unhandled error", level 50).
 */
describe('a login whose body never arrives in full', () => {
  let gw: CertgateProcess;
  beforeAll(async () => {
    const pki = await makeTestPki();
    gw = await startCertgate({ config: { store: { url: 'memory' }, identities: [{ id: 'agents', caCertificate: pki.rootA.pem }] } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('is audited as a refused login with invalid_body, and no error is logged', async () => {
    const socket = connect(gw.port, gw.host);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST ${LOGIN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"identi`);
    socket.destroy();
    const refused = () => gw.process.output().split('\n').find((l) => l.includes('"event":"login"') && l.includes('"outcome":"refused"'));
    await waitUntil('the refused login is audited', async () => refused() !== undefined, 10_000);
    expect(JSON.parse(refused()!)).toMatchObject({ reason: 'invalid_body' });
    expect(gw.process.output()).not.toMatch(/"level":50/);
  });
  it('a chunked body that grows past the limit is refused as body_too_large and the rest is not read', async () => {
    const socket = connect(gw.port, gw.host);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`POST ${LOGIN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = 'x'.repeat(4096);
    // 5 × 4 KiB > 16 KiB, then a body that never ends: only the limit can end this request.
    for (let i = 0; i < 5; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await closed;
    const refused = () => gw.process.output().split('\n').find((l) => l.includes('"event":"login"') && l.includes('body_too_large'));
    await waitUntil('the refused login is audited', async () => refused() !== undefined, 10_000);
    expect(JSON.parse(refused()!)).toMatchObject({ outcome: 'refused', reason: 'body_too_large' });
    expect(received).not.toMatch(/^HTTP\/1\.1 200/);
    expect(gw.process.output()).not.toMatch(/"level":50/);
    // The gateway serves on.
    const health = await fetch(`http://${gw.host}:${gw.port}/healthz`);
    expect(health.status).toBe(200);
  });
});
