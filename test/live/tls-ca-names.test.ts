import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/http/server.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, writePem, type TestPki } from '../helpers/pki.js';

/**
 * Without server.tls.clientCa the direct listener asks clients for certificates of the identities'
 * CAs; a reload that adds an identity adds its CA to what new handshakes ask for (openssl shows it).
 */
function acceptableCaNames(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], { timeout: 10_000 }, (err, stdout) => {
      if (err && !stdout) reject(err);
      else resolve(stdout.split('Acceptable client certificate CA names')[1]?.split('Requested Signature')[0] ?? '');
    });
    child.stdin?.end();
  });
}

describe('CA names of the direct listener follow reloads', () => {
  let pki: TestPki;
  let gw: RunningGateway;
  let file: string;
  let dir: string;
  const doc = (identities: unknown[]) => ({
    issuer: 'https://certgate.test',
    server: { host: '127.0.0.1', port: 0, tls: { port: 0, cert: 'server.pem', key: 'server-key.pem' } },
    store: { url: 'memory' },
    keys: { dir: join(dir, 'keys') },
    identities,
  });

  beforeAll(async () => {
    pki = await makeTestPki();
    dir = makeTempDir();
    writePem(dir, 'server.pem', pki.server.pem);
    writePem(dir, 'server-key.pem', pki.server.keyPem);
    file = join(dir, 'certgate.yaml');
    writeFileSync(file, stringify(doc([{ id: 'a', caCertificate: pki.rootA.pem }])));
    gw = await startGateway(loadConfigFile(file, {}), { configFile: file, log: pino({ level: 'silent' }) });
  });
  afterAll(() => gw?.close());

  it('asks for the CA of an identity added by a reload', async () => {
    const before = await acceptableCaNames(gw.tlsPort!);
    expect(before).toContain('Test Root A');
    expect(before).not.toContain('Test Root B');
    writeFileSync(file, stringify(doc([{ id: 'a', caCertificate: pki.rootA.pem }, { id: 'b', caCertificate: pki.rootB.pem }])));
    expect((await gw.reload('manual')).ok).toBe(true);
    const after = await acceptableCaNames(gw.tlsPort!);
    expect(after).toContain('Test Root A');
    expect(after).toContain('Test Root B');
  });
});
