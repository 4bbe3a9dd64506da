/**
 * examples/node-client/login.mjs against certgate's direct mTLS listener: the way the README runs
 * it inside the repo, and the way a user runs it in their own project (node_modules/certgate, as
 * `npm install /path/to/certgate` links it).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClientGateway, type ClientGateway } from '../helpers/client-gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { REPO_ROOT } from '../helpers/terminators.js';

const SCRIPT = join(REPO_ROOT, 'examples/node-client/login.mjs');

function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('examples/node-client/login.mjs (certgate/client)', () => {
  let gw: ClientGateway;
  beforeAll(async () => {
    gw = await startClientGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('logs in and prints the answer of --call, never the token', async () => {
    const c = await gw.creds('agent-1');
    const r = await run(SCRIPT, ['--url', gw.tlsUrl, '--cert', c.certFile, '--key', c.keyFile, '--ca', gw.caFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ identityId: 'agents' });
    expect(r.stderr).toMatch(/^logged in: Bearer token, expires in 600s \(renewable up to 3600s\)/);
    expect(r.stdout + r.stderr).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });

  it('a refused login: certgate’s JSON error on stderr, exit code 1', async () => {
    const c = await gw.creds('intruder-1');
    const r = await run(SCRIPT, ['--url', gw.tlsUrl, '--cert', c.certFile, '--key', c.keyFile, '--ca', gw.caFile]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr.trim())).toMatchObject({ statusCode: 401, error: 'common_name_not_allowed' });
  });

  it('runs from a project of its own with certgate installed as a dependency', async () => {
    const project = makeTempDir('certgate-example-');
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(REPO_ROOT, join(project, 'node_modules', 'certgate'));
    copyFileSync(SCRIPT, join(project, 'login.mjs'));
    const c = await gw.creds('agent-2');
    const r = await run(join(project, 'login.mjs'), ['--url', gw.tlsUrl, '--cert', c.certFile, '--key', c.keyFile, '--ca', gw.caFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ identityId: 'agents', subject: expect.stringContaining('agent-2') });
  });
});
