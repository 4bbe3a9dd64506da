import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, expandEnv } from '../../src/config/env.js';
import { CERTGATE_MAIN } from '../helpers/certgate-process.js';
import { REPO_ROOT } from '../helpers/terminators.js';

const refusal = (doc: unknown, env: NodeJS.ProcessEnv): ConfigError => {
  try {
    expandEnv(doc, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('${ENV} expansion', () => {
  it('names every unset variable with its key in one error', () => {
    const e = refusal({ admin: { tokens: ['${A_TOKEN}'] }, x: ['${B_SECRET} and ${C}', '${D:-fine}'] }, { C: 'set' });
    expect(e.reason).toBe('2 environment variables are not set: A_TOKEN (admin.tokens.0), B_SECRET (x.0); set them, or write ${NAME:-default} in the file');
  });

  it('one unset variable: the error names its key', () => {
    const e = refusal({ admin: { tokens: ['${A_TOKEN}'] } }, {});
    expect(e.path).toEqual(['admin', 'tokens', '0']);
    expect(e.reason).toBe('environment variable A_TOKEN is not set');
  });

  it('an empty variable counts as unset; set ones and defaults expand', () => {
    expect(() => expandEnv({ a: '${E}' }, { E: '' })).toThrow(ConfigError);
    expect(expandEnv({ a: ['x-${E}-${F:-d}'] }, { E: 'e' })).toEqual({ a: ['x-e-d'] });
  });

  it('check-config of config/example.yaml lists everything the example needs from the environment', () => {
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [CERTGATE_MAIN, 'check-config', '--config', join(REPO_ROOT, 'config/example.yaml')], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...env },
      });
    const r = run({});
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('2 environment variables are not set: CERTGATE_ADMIN_TOKEN (admin.tokens.0), RS1_SECRET (introspection.clients.0.secret)');
    // With both set, the variables are no longer the problem (the example's CA path is).
    const set = run({ CERTGATE_ADMIN_TOKEN: 'an-admin-token-of-sufficient-length', RS1_SECRET: 'an-introspection-secret-of-length' });
    expect(set.status).toBe(1);
    expect(set.stderr).not.toContain('environment variable');
    expect(set.stderr).toContain('/etc/certgate/ci-ca.pem');
  });
});
