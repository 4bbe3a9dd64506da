import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/env.js';
import { buildConfig, loadConfigFile } from '../../src/config/load.js';
import { mintCertificate } from '../../src/pki/mint.js';
import { makeTempDir } from '../helpers/launcher.js';

let dir: string;
let caPem: string;

beforeAll(async () => {
  dir = makeTempDir();
  caPem = (await mintCertificate({ subject: 'CN=Config Test CA', ca: true })).pem;
  writeFileSync(join(dir, 'ca.pem'), caPem);
  writeFileSync(join(dir, 'not-pem.pem'), 'hello\n');
});

const base = () => ({
  issuer: 'https://gw.example.com',
  identities: [{ id: 'agents', caCertificateFile: 'ca.pem' }],
});

function refusal(doc: unknown, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    buildConfig(doc, { baseDir: dir, env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration', () => {
  it('accepts a minimal config and applies the documented defaults', () => {
    const c = buildConfig(base(), { baseDir: dir, env: {} });
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.audience).toBe('certgate');
    expect(c.store.url).toBe('redis://127.0.0.1:6379');
    const id = c.identities[0]!;
    expect(id).toMatchObject({ accessTokenTTL: 7200, accessTokenMaxTTL: 86400, accessTokenNumUsesLimit: 0, bindTokenToCertificate: false });
    expect(id.bundle).toHaveLength(1);
    expect(id.caCertificateFile).toBe(join(dir, 'ca.pem'));
  });

  it('reads every certificate of an inline bundle', () => {
    const c = buildConfig({ ...base(), identities: [{ id: 'a', caCertificate: caPem + caPem }] }, { baseDir: dir, env: {} });
    expect(c.identities[0]!.bundle).toHaveLength(2);
  });

  it.each([
    ['an unknown top-level key', { ...base(), issuers: 'x' }, '', /unknown key "issuers"/],
    ['an unknown identity key', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', allowedCN: ['x'] }] }, 'identities.0', /unknown key "allowedCN"/],
    ['an unreadable CA file', { ...base(), identities: [{ id: 'a', caCertificateFile: 'missing.pem' }] }, 'identities.0.caCertificateFile', /cannot read/],
    ['a non-PEM CA file', { ...base(), identities: [{ id: 'a', caCertificateFile: 'not-pem.pem' }] }, 'identities.0.caCertificateFile', /PEM/],
    ['a TTL above the max TTL', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', accessTokenTTL: 10, accessTokenMaxTTL: 5 }] }, 'identities.0.accessTokenTTL', /accessTokenMaxTTL/],
    ['a bad CIDR', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', accessTokenTrustedIps: ['10.0.0.0/33'] }] }, 'identities.0.accessTokenTrustedIps.0', /prefix/],
    ['a bad proxy CIDR', { ...base(), trustedProxies: [{ cidrs: ['nope'], header: 'x-c', format: 'nginx' }] }, 'trustedProxies.0.cidrs.0', /CIDR/],
    ['an unknown header format', { ...base(), trustedProxies: [{ cidrs: ['10.0.0.0/8'], header: 'x-c', format: 'f5' }] }, 'trustedProxies.0.format', /.+/],
    ['a chain header for XFCC', { ...base(), trustedProxies: [{ cidrs: ['10.0.0.0/8'], header: 'x-forwarded-client-cert', format: 'envoy-xfcc', chainHeader: 'x-c' }] }, 'trustedProxies.0.chainHeader', /XFCC/],
    ['a /0 trusted-proxy range', { ...base(), trustedProxies: [{ cidrs: ['0.0.0.0/0'], header: 'x-c', format: 'nginx' }] }, 'trustedProxies.0.cidrs.0', /every peer/],
    ['an IPv6 trusted-proxy range covering mapped IPv4', { ...base(), trustedProxies: [{ cidrs: ['10.0.0.0/8', '::/1'], header: 'x-c', format: 'nginx' }] }, 'trustedProxies.0.cidrs.1', /IPv4-mapped/],
    [
      'two trusted-proxy entries whose ranges overlap (IPv4 and its mapped IPv6 form)',
      { ...base(), trustedProxies: [{ cidrs: ['192.0.2.1/32', '127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }, { cidrs: ['::ffff:7f00:0/120'], header: 'x-forwarded-client-cert', format: 'envoy-xfcc' }] },
      'trustedProxies.1.cidrs.0',
      /trustedProxies\[0\] \(nginx, header x-ssl-client-cert, cidr 127\.0\.0\.1\/32\) and trustedProxies\[1\] \(envoy-xfcc, header x-forwarded-client-cert, cidr ::ffff:7f00:0\/120\) overlap/,
    ],
    ['a revocation block without a source', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', revocation: { crl: { fromCertificate: false } } }] }, 'identities.0.revocation', /no revocation source/],
    ['duplicate identity ids', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem' }, { id: 'a', caCertificateFile: 'ca.pem' }] }, 'identities.1.id', /duplicate/],
    ['an invalid identity id', { ...base(), identities: [{ id: 'Agents!', caCertificateFile: 'ca.pem' }] }, 'identities.0.id', /a-z0-9/],
    ['both CA forms', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', caCertificate: '-----BEGIN CERTIFICATE-----' }] }, 'identities.0.caCertificate', /exactly one/],
    ['a reserved claim', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', claims: { sub: 'x' } }] }, 'identities.0.claims', /reserved/],
    ['a missing issuer', { identities: [] }, 'issuer', /.+/],
    ['a short admin token', { ...base(), admin: { tokens: ['short'] } }, 'admin.tokens.0', /16/],
    ['a SPIFFE pattern with a wildcard trust domain', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', allowedSubjectAltNames: ['DNS:a.example', 'SPIFFE:spiffe://*/ns/ci'] }] }, 'identities.0.allowedSubjectAltNames.1', /SPIFFE pattern .*trust domain/],
    ['a SPIFFE pattern with ** before the end', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', allowedSubjectAltNames: ['SPIFFE:spiffe://corp/**/db'] }] }, 'identities.0.allowedSubjectAltNames.0', /\*\* before its last/],
    ['an untyped SAN pattern', { ...base(), identities: [{ id: 'a', caCertificateFile: 'ca.pem', allowedSubjectAltNames: ['*.example.com'] }] }, 'identities.0.allowedSubjectAltNames.0', /DNS:/],
  ])('refuses %s, naming the key', (_name, doc, path, reason) => {
    const e = refusal(doc);
    expect(e.path.join('.')).toBe(path);
    expect(e.reason).toMatch(reason);
  });

  it('names every problem of a config, the first one first', () => {
    const e = refusal({ ...base(), issuers: 'x', identities: [{ id: 'a', caCertificateFile: 'missing.pem' }, { id: 'b', caCertificateFile: 'not-pem.pem' }] });
    expect(e.problems.map((p) => p.path.join('.'))).toEqual(['']);
    const zod = refusal({ ...base(), audience: '', identities: [{ id: 'A', caCertificateFile: 'ca.pem', accessTokenTTL: -1 }] });
    expect(zod.problems.map((p) => p.path.join('.'))).toEqual(['audience', 'identities.0.id', 'identities.0.accessTokenTTL']);
    const resolved = refusal({ ...base(), identities: [{ id: 'a', caCertificateFile: 'missing.pem' }, { id: 'b', caCertificateFile: 'not-pem.pem' }] });
    expect(resolved.problems.map((p) => p.path.join('.'))).toEqual(['identities.0.caCertificateFile', 'identities.1.caCertificateFile']);
    expect(resolved.message).toMatch(/^identities\.0\.caCertificateFile: cannot read .*\n {2}identities\.1\.caCertificateFile: holds no PEM/);
  });

  it('expands ${ENV} and ${ENV:-default}, and refuses an unset variable by key', () => {
    const doc = { ...base(), admin: { tokens: ['${ADMIN_TOKEN}'] }, audience: '${AUD:-certgate-default}' };
    const c = buildConfig(doc, { baseDir: dir, env: { ADMIN_TOKEN: 'a-very-long-admin-secret' } });
    expect(c.admin.tokens).toEqual(['a-very-long-admin-secret']);
    expect(c.audience).toBe('certgate-default');
    const e = refusal(doc, {});
    expect(e.path.join('.')).toBe('admin.tokens.0');
    expect(e.reason).toMatch(/ADMIN_TOKEN is not set/);
  });

  it('lets REDIS_URL override store.url', () => {
    const c = buildConfig({ ...base(), store: { url: 'memory' } }, { baseDir: dir, env: { REDIS_URL: 'redis://127.0.0.1:7000' } });
    expect(c.store.url).toBe('redis://127.0.0.1:7000');
  });

  it('loads a YAML file relative to its directory and refuses broken YAML', () => {
    writeFileSync(join(dir, 'gw.yaml'), 'issuer: https://gw.example.com\nidentities:\n  - id: a\n    caCertificateFile: ca.pem\n');
    expect(loadConfigFile(join(dir, 'gw.yaml'), {}).identities[0]!.id).toBe('a');
    writeFileSync(join(dir, 'bad.yaml'), 'admin:\n  tokens: ["secret-admin-token-123456"\nissuer: [unclosed\n');
    expect(() => loadConfigFile(join(dir, 'bad.yaml'), {})).toThrow(/YAML .*line \d+/);
    // The message gives the position, never the source text around it (it may hold secrets).
    expect(() => loadConfigFile(join(dir, 'bad.yaml'), {})).not.toThrow(/secret-admin-token/);
  });
});
