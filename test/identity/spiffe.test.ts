import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSanPattern } from '../../src/identity/match.js';
import { compileSpiffePattern, parseSpiffeId } from '../../src/identity/spiffe.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type TestPki } from '../helpers/pki.js';

describe('SPIFFE ID syntax (SPIFFE-ID.md, as go-spiffe parses it)', () => {
  it.each([
    ['spiffe://corp/ns/ci/sa/builder', 'corp', ['ns', 'ci', 'sa', 'builder']],
    ['spiffe://example.org/a', 'example.org', ['a']],
    ['spiffe://td-1_x.y/A.b-C_9', 'td-1_x.y', ['A.b-C_9']],
    ['spiffe://corp/...', 'corp', ['...']], // three dots is a name, not a dot segment
  ])('accepts %s', (raw, trustDomain, segments) => {
    expect(parseSpiffeId(raw)).toEqual({ trustDomain, segments });
  });

  it.each([
    ['SPIFFE://corp/a', /spiffe:\/\//],
    ['spiffe:/corp/a', /spiffe:\/\//],
    ['https://corp/a', /spiffe:\/\//],
    ['spiffe:///a', /empty trust domain/],
    ['spiffe://Corp/a', /trust domain/],
    ['spiffe://corp:8443/a', /trust domain/],
    ['spiffe://user@corp/a', /trust domain/],
    ['spiffe://c%6Frp/a', /trust domain/],
    ['spiffe://corp', /no path/],
    ['spiffe://corp/', /empty path segment|trailing slash/],
    ['spiffe://corp/a/', /trailing slash/],
    ['spiffe://corp/a//b', /empty path segment/],
    ['spiffe://corp/a/./b', /dot segment/],
    ['spiffe://corp/ns/ci/../../prod/sa/db', /dot segment/],
    ['spiffe://corp/a?x=1', /query/],
    ['spiffe://corp/a#f', /fragment/],
    ['spiffe://corp/a%2Fb', /percent/],
    ['spiffe://corp/a b', /characters/],
    ['spiffe://corp/' + 'a'.repeat(2040), /2048/],
    [`spiffe://${'a'.repeat(256)}/x`, /255/],
  ])('refuses %s', (raw, why) => {
    const r = parseSpiffeId(raw);
    expect(typeof r).toBe('string');
    expect(r).toMatch(why);
  });
});

describe('SPIFFE: patterns', () => {
  it.each([
    // * is exactly one segment
    ['spiffe://corp/ns/ci/sa/*', 'spiffe://corp/ns/ci/sa/builder', true],
    ['spiffe://corp/ns/ci/sa/*', 'spiffe://corp/ns/ci/sa/builder/x', false],
    ['spiffe://corp/ns/ci/sa/*', 'spiffe://corp/ns/ci/sa', false],
    ['spiffe://corp/ns/*/sa/db', 'spiffe://corp/ns/ci/sa/db', true],
    ['spiffe://corp/ns/*/sa/db', 'spiffe://corp/ns/ci/x/sa/db', false],
    // ** is the rest: one or more segments
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci/sa/builder', true],
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci/a', true],
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci', false],
    ['spiffe://corp/**', 'spiffe://corp/anything/at/all', true],
    // the trust domain is exact
    ['spiffe://corp/ns/ci/*', 'spiffe://corp.evil/ns/ci/x', false],
    ['spiffe://corp/ns/ci/*', 'spiffe://evil/ns/ci/x', false],
    ['spiffe://corp/**', 'spiffe://CORP/a', false],
    // literal segments are exact, case included
    ['spiffe://corp/ns/ci/*', 'spiffe://corp/NS/ci/x', false],
    ['spiffe://corp/ns/ci/sa/builder', 'spiffe://corp/ns/ci/sa/builder', true],
    // never a dot segment, nor anything that is not a SPIFFE ID
    ['spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/..', false],
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci/../../prod/sa/db', false],
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci/%2e%2e/prod', false],
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci/a/', false],
    ['spiffe://corp/ns/ci/**', 'spiffe://corp/ns/ci/a?x', false],
    ['spiffe://corp/ns/ci/*', 'spiffe://corp:443/ns/ci/a', false],
  ])('%s vs %s → %s', (pattern, uri, ok) => {
    expect(compileSpiffePattern(pattern)(uri)).toBe(ok);
    // Through the typed SAN matcher: only URI SANs are SPIFFE candidates.
    expect(compileSanPattern(`SPIFFE:${pattern}`)({ type: 'uri', value: uri })).toBe(ok);
    expect(compileSanPattern(`SPIFFE:${pattern}`)({ type: 'dns', value: uri })).toBe(false);
  });

  it.each([
    ['spiffe://*/ns/ci', /trust domain/],
    ['spiffe://corp*/ns', /trust domain/],
    ['spiffe://corp/ns/sa-*', /characters/],
    ['spiffe://corp/**/sa', /\*\* before its last/],
    ['spiffe://corp/ns/../x', /dot segment/],
    ['spiffe://corp', /no path/],
    ['spiffe://corp/ns/', /trailing slash/],
    ['URI:spiffe://corp/a', /spiffe:\/\//],
    ['spiffe://corp/***', /characters/],
  ])('refuses the pattern %s', (pattern, why) => {
    expect(() => compileSpiffePattern(pattern)).toThrow(why);
  });
});

describe('URI: globs never match across or into a dot segment', () => {
  it.each([
    ['URI:spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/sa/builder', true],
    ['URI:spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/../../prod/sa/db', false],
    ['URI:spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/..', false],
    ['URI:spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/./x', false],
    ['URI:spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/%2E%2e/prod', false],
    ['URI:spiffe://corp/ns/ci/*', 'spiffe://corp/ns/ci/a/..;x/prod', true], // `..;x` is a name here, not a dot segment
    ['URI:spiffe://corp/ns/ci/.*', 'spiffe://corp/ns/ci/.', false], // * must not complete a dot segment
    ['URI:spiffe://corp/ns/ci/?', 'spiffe://corp/ns/ci/.', false],
    ['URI:https://corp/app/*', 'https://corp/app/x?next=../..', true], // the query is not the path
    ['URI:https://corp/app/*', 'https://corp/app/../admin', false],
    // A pattern without wildcards compares exactly, whatever it spells.
    ['URI:spiffe://corp/ns/ci/../x', 'spiffe://corp/ns/ci/../x', true],
  ])('%s vs %s → %s', (pattern, uri, ok) => {
    expect(compileSanPattern(pattern)({ type: 'uri', value: uri })).toBe(ok);
  });
});

describe('SPIFFE and URI patterns at login', () => {
  let pki: TestPki;
  let gw: TestGateway;
  beforeAll(async () => {
    pki = await makeTestPki();
    gw = await startTestGateway({
      trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
      identities: [
        { id: 'ci-uri', caCertificate: pki.rootA.pem, allowedSubjectAltNames: ['URI:spiffe://corp/ns/ci/*'] },
        { id: 'ci-spiffe', caCertificate: pki.rootA.pem, allowedSubjectAltNames: ['SPIFFE:spiffe://corp/ns/ci/sa/*'] },
        // Spelled out literally, so the policy lets it in: the claim must still not call it a SPIFFE ID.
        { id: 'literal', caCertificate: pki.rootA.pem, allowedSubjectAltNames: ['URI:spiffe://corp/ns/ci/../x'], certificateClaims: { spiffe_id: 'spiffeId' } },
      ],
    });
  });
  afterAll(() => gw?.close());

  const login = async (uri: string | string[], identityId: string) => {
    const leaf = await pki.leaf({ cn: 'w', san: [uri].flat().map((value) => ({ type: 'uri' as const, value })) });
    return postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': nginxEscaped(leaf, pki.interA) });
  };

  it('the review\'s certificate (spiffe://corp/ns/ci/../../prod/sa/db) is refused under a URI glob and a SPIFFE pattern', async () => {
    for (const id of ['ci-uri', 'ci-spiffe']) {
      const r = await login('spiffe://corp/ns/ci/../../prod/sa/db', id);
      expect(r.status, id).toBe(401);
      expect(r.body.error, id).toBe('subject_alt_name_not_allowed');
    }
  });

  it('a workload of the namespace logs in with either pattern', async () => {
    expect((await login('spiffe://corp/ns/ci/sa/builder', 'ci-uri')).status).toBe(200);
    expect((await login('spiffe://corp/ns/ci/sa/builder', 'ci-spiffe')).status).toBe(200);
    expect((await login('spiffe://corp/ns/ci/sa/builder/extra', 'ci-spiffe')).status).toBe(401);
  });

  it('a SPIFFE pattern needs an X509-SVID: a certificate with a second URI SAN is refused', async () => {
    const r = await login(['spiffe://corp/ns/ci/sa/builder', 'https://corp.example/other'], 'ci-spiffe');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('subject_alt_name_not_allowed');
    // A URI glob has no such rule: one of the URIs matching is enough (Vault semantics).
    expect((await login(['spiffe://corp/ns/ci/sa/builder', 'https://corp.example/other'], 'ci-uri')).status).toBe(200);
  });

  it('the spiffeId certificate claim is only ever a valid SPIFFE ID', async () => {
    const r = await login('spiffe://corp/ns/ci/../x', 'literal');
    expect(r.status).toBe(200);
    const claims = JSON.parse(Buffer.from(r.body.accessToken.split('.')[1], 'base64url').toString());
    expect(claims).not.toHaveProperty('spiffe_id');
  });
});
