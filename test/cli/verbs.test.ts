import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CERTGATE_MAIN } from '../helpers/certgate-process.js';

const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [CERTGATE_MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('certgate verbs', () => {
  it('an unknown verb says so, shows the usage, exits 2', () => {
    for (const verb of ['frobnicate', 'constructor', 'toString']) {
      const r = cli([verb, '--whatever']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`^certgate: unknown verb "${verb}"\\n\\ncertgate — mTLS identity-exchange gateway\\n\\nusage: certgate <verb>`));
      expect(r.out).toBe('');
    }
  });

  it('lists agent and dev-cert, each with its own --help', () => {
    const top = cli(['--help']);
    expect(top.out).toMatch(/^ {2}agent {8}keep a current token in a file/m);
    expect(top.out).toMatch(/^ {2}dev-cert {5}issue a client certificate/m);
    const agent = cli(['agent', '--help']);
    expect(agent.code).toBe(0);
    expect(agent.out).toContain('certgate agent --url URL --cert FILE --key FILE [--ca FILE] [--identity ID] --sink FILE');
    const devCert = cli(['dev-cert', '--help']);
    expect(devCert.code).toBe(0);
    expect(devCert.out).toContain('certgate dev-cert --cn NAME [--san DNS:name|IP:addr|URI:uri|EMAIL:addr …] [--out DIR]');
  });
});
