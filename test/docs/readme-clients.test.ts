/**
 * The README's "Clients" section, run as written: the Node snippet, the `certgate agent` command,
 * and the shell, Python and Go readers of its sink — against a real certgate (redis + gateway with
 * its mTLS listener). Only the URL, the identity and the sink path are substituted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClientGateway, type ClientGateway } from '../helpers/client-gateway.js';
import { ensureBinary, makeTempDir, startProcess, type ManagedProcess } from '../helpers/launcher.js';
import { REPO_ROOT } from '../helpers/terminators.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const start = readme.indexOf('## Clients: Node, and any language');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

describe('README: clients from Node and any language', () => {
  let gw: ClientGateway;
  let dir: string;
  let sink: string;
  let agent: ManagedProcess;
  const substitute = (code: string) =>
    code
      .replaceAll('https://certgate.example.com:8443', gw.tlsUrl)
      .replaceAll('https://certgate.example.com', gw.certgate.url)
      .replaceAll('build-agents', 'agents')
      .replaceAll('/run/certgate/token', sink)
      .replaceAll('npx certgate ', `exec ${process.execPath} ${join(REPO_ROOT, 'bin/certgate.js')} `);

  beforeAll(async () => {
    expect(start).toBeGreaterThan(0);
    gw = await startClientGateway();
    // The workload's directory: the file names the README uses.
    dir = makeTempDir('certgate-readme-');
    const creds = await gw.creds('agent-1');
    writeFileSync(join(dir, 'client.pem'), creds.cert);
    writeFileSync(join(dir, 'client-key.pem'), creds.key);
    writeFileSync(join(dir, 'ca.pem'), gw.ca);
    sink = join(dir, 'sink', 'token');
    mkdirSync(join(dir, 'sink'));
    const [agentCommand, curlLine] = blocks('sh');
    expect(agentCommand).toContain('certgate agent');
    expect(curlLine).toMatch(/^curl -H "Authorization: Bearer \$\(cat \/run\/certgate\/token\)" /);
    // npx certgate builds first when src/ is newer than dist/: allow for that.
    agent = await startProcess({ name: 'README agent', cmd: 'bash', args: ['-c', substitute(agentCommand!)], cwd: dir, readyWhen: async () => existsSync(sink), startTimeoutMs: 120_000 });
  });
  afterAll(async () => {
    await agent?.stop();
    await gw?.stop();
  });

  const expectSelf = (out: string) => expect(JSON.parse(out)).toMatchObject({ identityId: 'agents', subject: expect.stringContaining('agent-1') });

  it('the Node snippet (certgate/client) logs in and calls with the token', () => {
    const [js] = blocks('js');
    const project = join(dir, 'node-project');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(REPO_ROOT, join(project, 'node_modules', 'certgate'));
    writeFileSync(join(project, 'snippet.mjs'), substitute(js!));
    const out = execFileSync(process.execPath, [join(project, 'snippet.mjs')], { cwd: dir, encoding: 'utf8' });
    // console.log of an object: Node's inspect format, not JSON.
    expect(out).toMatch(/identityId: 'agents'/);
    expect(out).toContain('agent-1');
  });

  it('the shell line reads the agent’s sink', () => {
    const [, curlLine] = blocks('sh');
    expectSelf(execFileSync('bash', ['-c', substitute(curlLine!)], { cwd: dir, encoding: 'utf8' }));
  });

  it('the Python snippet reads the agent’s sink', () => {
    const [py] = blocks('python');
    writeFileSync(join(dir, 'reader.py'), substitute(py!));
    expectSelf(execFileSync(ensureBinary('python3', 'python3'), [join(dir, 'reader.py')], { encoding: 'utf8' }));
  });

  it('the Go snippet reads the agent’s sink', () => {
    const [go] = blocks('go');
    const goDir = join(dir, 'go-reader');
    mkdirSync(goDir);
    writeFileSync(join(goDir, 'main.go'), substitute(go!));
    expectSelf(execFileSync(ensureBinary('go', 'golang-go'), ['run', 'main.go'], { cwd: goDir, encoding: 'utf8' }));
  }, 120_000);
});
