import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/env.js';
import { buildConfig } from '../../src/config/load.js';
import { mintCertificate } from '../../src/pki/mint.js';
import { makeTempDir } from '../helpers/launcher.js';

let dir: string;
let caPem: string;

beforeAll(async () => {
  dir = makeTempDir();
  caPem = (await mintCertificate({ subject: 'CN=Revocation Config CA', ca: true })).pem;
  writeFileSync(join(dir, 'int.crl'), 'a CRL file');
});

const doc = (revocation: unknown) => ({
  issuer: 'https://gw.example.com',
  identities: [{ id: 'agents', caCertificate: caPem, revocation }],
});

function refusal(d: unknown): ConfigError {
  try {
    buildConfig(d, { baseDir: dir, env: {} });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('the configuration was accepted');
}

describe('revocation configuration', () => {
  it('accepts CRL sources and resolves crl.files against the config directory', () => {
    const c = buildConfig(
      doc({ crl: { fromCertificate: true, urls: ['http://crl.example/int.crl', 'https://crl.example/b.crl'], files: ['int.crl'] }, onUnavailable: 'failOpen' }),
      { baseDir: dir, env: {} },
    );
    expect(c.identities[0]!.revocation).toEqual({
      crl: { fromCertificate: true, urls: ['http://crl.example/int.crl', 'https://crl.example/b.crl'], files: [join(dir, 'int.crl')] },
      onUnavailable: 'failOpen',
    });
  });

  it('defaults onUnavailable to failClosed', () => {
    const c = buildConfig(doc({ crl: { fromCertificate: true } }), { baseDir: dir, env: {} });
    expect(c.identities[0]!.revocation?.onUnavailable).toBe('failClosed');
  });

  it('accepts an ocsp block that is disabled beside a CRL source, and refuses it as the only "source"', () => {
    expect(() => buildConfig(doc({ crl: { fromCertificate: true }, ocsp: { enabled: false, responder: 'http://ocsp.example' } }), { baseDir: dir, env: {} })).not.toThrow();
    expect(refusal(doc({ ocsp: { enabled: false, responder: 'http://ocsp.example' } })).message).toMatch(/names no revocation source/);
  });

  it('refuses a CRL URL that is not http(s), and an unreadable CRL file, naming the entry', () => {
    const u = refusal(doc({ crl: { urls: ['http://ok.example/a.crl', 'ldap://dir.example/cn=crl'] } }));
    expect(u.message).toBe('identities.0.revocation.crl.urls.1: only http and https CRL URLs are supported');
    const f = refusal(doc({ crl: { files: ['missing.crl'] } }));
    expect(f.message).toMatch(/^identities\.0\.revocation\.crl\.files\.0: cannot read .*missing\.crl/);
  });

  it('refuses unknown keys in the revocation block', () => {
    expect(refusal(doc({ crl: { fromCert: true } })).message).toMatch(/identities\.0\.revocation\.crl: unknown key "fromCert"/);
  });
});
