import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/env.js';
import { buildConfig } from '../../src/config/load.js';
import { mintCertificate } from '../../src/pki/mint.js';
import { makeTempDir } from '../helpers/launcher.js';

let dir: string;
let caPem: string;

beforeAll(async () => {
  dir = makeTempDir();
  caPem = (await mintCertificate({ subject: 'CN=OCSP Config CA', ca: true })).pem;
});

const doc = (revocation: unknown) => ({
  issuer: 'https://gw.example.com',
  identities: [{ id: 'agents', caCertificate: caPem, revocation }],
});
const build = (d: unknown) => buildConfig(d, { baseDir: dir, env: {} });

function refusal(d: unknown): ConfigError {
  try {
    build(d);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('the configuration was accepted');
}

describe('OCSP configuration', () => {
  it('accepts ocsp.enabled: true, alone, with a responder, and next to CRLs', () => {
    expect(build(doc({ ocsp: { enabled: true } })).identities[0]!.revocation).toEqual({ ocsp: { enabled: true }, onUnavailable: 'failClosed' });
    expect(build(doc({ ocsp: { enabled: true, responder: 'http://ocsp.corp.example/ca' }, onUnavailable: 'failOpen' })).identities[0]!.revocation).toEqual({
      ocsp: { enabled: true, responder: 'http://ocsp.corp.example/ca' },
      onUnavailable: 'failOpen',
    });
    expect(build(doc({ crl: { fromCertificate: true }, ocsp: { enabled: true } })).identities[0]!.revocation).toMatchObject({
      crl: { fromCertificate: true },
      ocsp: { enabled: true },
    });
  });

  it('refuses a responder that is not an http URL, naming the key', () => {
    const https = refusal(doc({ ocsp: { enabled: true, responder: 'https://ocsp.example' } }));
    expect(https.path).toEqual(['identities', 0, 'revocation', 'ocsp', 'responder']);
    expect(https.message).toBe('identities.0.revocation.ocsp.responder: only http OCSP responders are supported');
    expect(refusal(doc({ ocsp: { enabled: true, responder: 'not a url' } })).path).toEqual(['identities', 0, 'revocation', 'ocsp', 'responder']);
  });

  it('refuses unknown keys in the ocsp block', () => {
    expect(refusal(doc({ ocsp: { enabled: true, url: 'http://ocsp.example' } })).message).toMatch(/identities\.0\.revocation\.ocsp: unknown key "url"/);
  });
});
