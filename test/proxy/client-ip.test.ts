import { describe, expect, it } from 'vitest';
import { clientIp, compileTrustedProxies } from '../../src/proxy/trusted.js';

const proxies = compileTrustedProxies([
  { cidrs: ['10.0.0.0/8', '2001:db8:ffff::/48'], header: 'x-ssl-client-cert', format: 'nginx' },
  { cidrs: ['192.168.0.0/16'], header: 'x-client-der', format: 'haproxy' },
]);

const xff = (...lines: string[]) => ({ 'x-forwarded-for': lines });

describe('clientIp', () => {
  it.each([
    // [case, peer, headers, expected]
    ['untrusted peer: XFF ignored entirely', '203.0.113.9', xff('1.2.3.4'), '203.0.113.9'],
    ['untrusted IPv4-mapped peer, normalized', '::ffff:203.0.113.9', xff('1.2.3.4'), '203.0.113.9'],
    ['untrusted IPv6 peer, lower-cased', '2001:DB8::1', xff('1.2.3.4'), '2001:db8::1'],
    ['trusted peer without XFF: the peer', '10.0.0.1', {}, '10.0.0.1'],
    ['trusted peer, one client', '10.0.0.1', xff('198.51.100.7'), '198.51.100.7'],
    ['spoofed left-most entry ignored', '10.0.0.1', xff('6.6.6.6, 198.51.100.7'), '198.51.100.7'],
    ['chain of trusted proxies skipped from the right', '10.0.0.1', xff('6.6.6.6, 198.51.100.7, 192.168.3.4, 10.9.9.9'), '198.51.100.7'],
    ['every entry trusted: the left-most', '10.0.0.1', xff('192.168.3.4, 10.9.9.9'), '192.168.3.4'],
    ['several XFF lines read in order as one list', '10.0.0.1', xff('6.6.6.6', '198.51.100.7, 10.0.0.2'), '198.51.100.7'],
    ['IPv6 client', '10.0.0.1', xff('2001:DB8:1::5'), '2001:db8:1::5'],
    ['IPv6 trusted proxy in the chain', '2001:db8:ffff::1', xff('198.51.100.7, 2001:db8:ffff::2'), '198.51.100.7'],
    ['IPv4-mapped entries normalized and matched', '::ffff:10.0.0.1', xff('::ffff:198.51.100.7, ::ffff:10.1.1.1'), '198.51.100.7'],
    ['ports on entries (Azure style)', '10.0.0.1', xff('198.51.100.7:51234, [2001:db8::9]:443'), '2001:db8::9'],
    ['bracketed IPv6 without port', '10.0.0.1', xff('[2001:db8::9]'), '2001:db8::9'],
    ['garbage right of the client: fail safe to the peer', '10.0.0.1', xff('198.51.100.7, unknown'), '10.0.0.1'],
    ['garbage after trusted hops: still the peer', '10.0.0.1', xff('198.51.100.7, nonsense, 10.0.0.2'), '10.0.0.1'],
    ['garbage left of the client is never reached', '10.0.0.1', xff('nonsense, 198.51.100.7'), '198.51.100.7'],
    ['empty member: fail safe to the peer', '10.0.0.1', xff('198.51.100.7,,'), '10.0.0.1'],
    ['empty header: the peer', '10.0.0.1', xff(''), '10.0.0.1'],
    ['RFC 7239 obfuscated identifier: the peer', '10.0.0.1', xff('_hidden'), '10.0.0.1'],
    ['out-of-range octet is garbage', '10.0.0.1', xff('198.51.100.300'), '10.0.0.1'],
  ] as const)('%s', (_, peer, headers, expected) => {
    expect(clientIp(peer, headers, proxies)).toBe(expected);
  });

  it('returns an empty string when the socket has no address (matches no CIDR)', () => {
    expect(clientIp(undefined, xff('198.51.100.7'), proxies)).toBe('');
  });

  it('with no trusted proxies, always the peer', () => {
    expect(clientIp('10.0.0.1', xff('198.51.100.7'), compileTrustedProxies([]))).toBe('10.0.0.1');
  });
});
