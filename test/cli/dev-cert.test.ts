import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDefault } from '../helpers/embedded-default.js';
import { ensureBinary, type ManagedProcess } from '../helpers/launcher.js';

/**
 * `certgate dev-cert` on a copy of the built package (test/helpers/embedded-default.ts): a second
 * client of the playground, issued by its dev CA, logs in with the curl line dev-cert prints.
 */
describe('certgate dev-cert', () => {
  let dir: string;
  let gw: ManagedProcess;
  let httpPort: number;

  beforeAll(async () => {
    ({ dir, gw, httpPort } = await startEmbeddedDefault('certgate-devcert-'));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const devCert = (args: string[]) => spawnSync(process.execPath, ['dist/cli/main.js', 'dev-cert', ...args], { cwd: dir, encoding: 'utf8' });
  /** Runs the curl line dev-cert printed, exactly (joined at its backslash). */
  const runPrintedCurl = (out: string) => {
    const line = /(curl --cert [^\n]+\\\n\s+-X POST \S+)/.exec(out)?.[1];
    expect(line, out).toBeTruthy();
    const args = line!.replace(/\\\n\s+/, ' ').split(/\s+/).slice(1);
    return JSON.parse(execFileSync('curl', ['-sS', ...args], { cwd: dir, encoding: 'utf8' }));
  };
  const self = (token: string) =>
    JSON.parse(execFileSync('curl', ['-sS', '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${httpPort}/api/v1/auth/token/self`], { encoding: 'utf8' }));

  it('issues dev-2 from the dev CA; its printed curl line logs in as identity dev', () => {
    const r = devCert(['--cn', 'dev-2', '--san', 'DNS:dev-2.local', '--san', 'IP:127.0.0.2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote .certgate-dev/client-dev-2.pem');
    expect(r.stdout).toContain('wrote .certgate-dev/client-dev-2-key.pem (mode 0600)');
    expect(statSync(join(dir, '.certgate-dev/client-dev-2-key.pem')).mode & 0o777).toBe(0o600);
    const pem = readFileSync(join(dir, '.certgate-dev/client-dev-2.pem'), 'utf8');
    const text = execFileSync(ensureBinary('openssl', 'openssl'), ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
    expect(text).toMatch(/DNS:dev-2\.local, IP Address:127\.0\.0\.2/);
    const login = runPrintedCurl(r.stdout);
    expect(login).toMatchObject({ tokenType: 'Bearer' });
    expect(self(login.accessToken)).toMatchObject({ identityId: 'dev', subject: expect.stringContaining('CN=dev-2') });
  });

  it('a CN outside dev/dev-*: says how to allow it; the login is refused until then', () => {
    const out = join(dir, 'elsewhere');
    const r = devCert(['--cn', 'alice', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote elsewhere/client-alice.pem');
    expect(r.stdout).toContain('accepts only CN dev and dev-*: to log in as "alice", add it to\nallowedCommonNames');
    expect(runPrintedCurl(r.stdout)).toMatchObject({ statusCode: 401, error: 'common_name_not_allowed' });
  });

  it('refuses a bad --cn or --san with exit 2', () => {
    expect(devCert([]).status).toBe(2);
    expect(devCert(['--cn', 'a/b']).status).toBe(2);
    const r = devCert(['--cn', 'dev-3', '--san', 'FOO:x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('expected DNS:name, IP:address, URI:uri or EMAIL:address');
  });
});
