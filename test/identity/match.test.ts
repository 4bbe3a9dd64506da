import { describe, expect, it } from 'vitest';
import { compileSanPattern, globToRegExp, type TypedName } from '../../src/identity/match.js';

describe('common-name globs (exact case; * any run, ? one character)', () => {
  it.each([
    ['agent-1', 'agent-1', true],
    ['agent-*', 'agent-42', true],
    ['agent-*', 'agent-', true],
    ['agent-*', 'Agent-42', false],
    ['agent-?', 'agent-7', true],
    ['agent-?', 'agent-77', false],
    ['agent.1', 'agentX1', false], // the dot is literal
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
    ['*', 'anything at all', true],
    ['agent-*', 'xagent-1', false], // anchored
  ])('%s vs %s → %s', (glob, cn, ok) => {
    expect(globToRegExp(glob).test(cn)).toBe(ok);
  });
});

const name = (s: string): TypedName => {
  const [type, ...rest] = s.split(':');
  return { type: type as TypedName['type'], value: rest.join(':') };
};

describe('typed SAN patterns', () => {
  it.each([
    ['DNS:*.ci.example.com', 'dns:a.ci.example.com', true],
    ['DNS:*.ci.example.com', 'dns:A.CI.Example.COM', true], // DNS is case-insensitive
    ['DNS:*.ci.example.com', 'dns:a.b.ci.example.com', false], // * is one label
    ['DNS:*.ci.example.com', 'dns:ci.example.com', false],
    ['DNS:*.ci.example.com', 'uri:a.ci.example.com', false], // the type must match
    ['DNS:build.example.com', 'dns:build.example.com', true],
    ['DNS:build.example.com', 'dns:buildxexample.com', false],
    ['URI:spiffe://corp/ns/ci/*', 'uri:spiffe://corp/ns/ci/sa/builder', true],
    ['URI:spiffe://corp/ns/ci/*', 'uri:spiffe://corp/ns/prod/sa/builder', false],
    ['URI:spiffe://corp/ns/ci/*', 'uri:spiffe://evil/ns/ci/sa/x', false],
    ['URI:spiffe://corp/ns/ci/*', 'uri:SPIFFE://corp/ns/ci/sa/x', false], // URIs compare exactly
    ['EMAIL:ops@corp', 'email:ops@corp', true],
    ['EMAIL:ops@corp', 'email:ops@CORP', true], // domain part is case-insensitive
    ['EMAIL:ops@corp', 'email:OPS@corp', false],
    ['EMAIL:*@corp.example', 'email:alice@corp.example', true],
    ['EMAIL:*@corp.example', 'email:alice@evil.example', false],
    ['IP:10.1.0.0/16', 'ip:10.1.200.3', true],
    ['IP:10.1.0.0/16', 'ip:10.2.0.1', false],
    // A mapped IPv4 SAN as the certificate decoder renders it, and in dotted form: the IPv4 address.
    ['IP:10.0.0.0/8', 'ip:::ffff:a01:203', true],
    ['IP:10.0.0.0/8', 'ip:::ffff:10.1.2.3', true],
    ['IP:10.0.0.0/8', 'ip:::ffff:b01:203', false],
    ['IP:2001:db8::/32', 'ip:2001:db8::1', true],
    ['IP:2001:db8::/32', 'ip:2001:db9::1', false],
  ])('%s vs %s → %s', (pattern, san, ok) => {
    expect(compileSanPattern(pattern)(name(san))).toBe(ok);
  });
});
