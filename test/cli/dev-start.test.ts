import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDefault } from '../helpers/embedded-default.js';
import type { ManagedProcess } from '../helpers/launcher.js';

/**
 * The README's promise: on a fresh checkout `npm start` runs the embedded default, generates the
 * dev PKI and prints a curl line that returns a token. The checkout is a copy of the built package
 * (test/helpers/embedded-default.ts).
 */
describe('npm start on the embedded default', () => {
  let dir: string;
  let gw: ManagedProcess;
  let httpPort: number;
  let tlsPort: number;

  beforeAll(async () => {
    ({ dir, gw, httpPort, tlsPort } = await startEmbeddedDefault('certgate-fresh-'));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('generates the dev PKI and prints a curl line that logs in', async () => {
    for (const f of ['ca.pem', 'server.pem', 'server-key.pem', 'client.pem', 'client-key.pem']) expect(existsSync(join(dir, '.certgate-dev', f))).toBe(true);
    await expect.poll(() => gw.output(), { timeout: 5000 }).toMatch(/-X POST https:/);
    const out = gw.output();
    const line = /(curl --cert [^\n]+\\\n\s+-X POST \S+)/.exec(out)?.[1];
    expect(line).toBeTruthy();
    const args = line!.replace(/\\\n\s+/, ' ').split(/\s+/).slice(1);
    const res = execFileSync('curl', ['-sS', ...args], { cwd: dir, encoding: 'utf8' });
    const body = JSON.parse(res);
    expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 3600 });
    const self = spawnSync('curl', ['-sS', '-H', `Authorization: Bearer ${body.accessToken}`, `http://127.0.0.1:${httpPort}/api/v1/auth/token/self`], { encoding: 'utf8' });
    expect(JSON.parse(self.stdout)).toMatchObject({ identityId: 'dev', scopes: ['certificates:request'] });
  });

  it('logs in with `certgate login` using the same dev certificate', () => {
    const pki = (f: string) => join(dir, '.certgate-dev', f);
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'login', '--cert', pki('client.pem'), '--key', pki('client-key.pem'), '--cacert', pki('ca.pem'), '--url', `https://127.0.0.1:${tlsPort}`], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tokenType: 'Bearer' });
    const refused = spawnSync(process.execPath, ['dist/cli/main.js', 'login', '--cert', pki('ca.pem'), '--key', pki('ca-key.pem'), '--cacert', pki('ca.pem'), '--url', `https://127.0.0.1:${tlsPort}`], { cwd: dir, encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(JSON.parse(refused.stdout).error).toBe('ca_certificate_as_client');
  });
});
