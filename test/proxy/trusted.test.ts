import { describe, expect, it } from 'vitest';
import { compileTrustedProxies, isTrustedProxy, readForwardedCertificate, type DistinctHeaders } from '../../src/proxy/trusted.js';
import type { TrustedProxyConfig } from '../../src/proxy/types.js';
import { INTERMEDIATE_DER, LEAF_SHA256, ROGUE_DER, sampleHeaders, sampleValue, sha256 } from './fixtures.js';

const NGINX_CERT = sampleValue('nginx-ssl_client_escaped_cert.value');
const HAPROXY_CERT = sampleValue('haproxy-ssl_c_der-base64.value');
const HAPROXY_CHAIN = sampleValue('haproxy-ssl_c_chain_der-base64.value');

const nginx: TrustedProxyConfig = { cidrs: ['10.0.0.0/8', 'fd00::/8'], header: 'x-ssl-client-cert', format: 'nginx', verifyHeader: 'x-ssl-client-verify' };
const haproxy: TrustedProxyConfig = { cidrs: ['192.168.1.10/32'], header: 'x-client-der', format: 'haproxy', chainHeader: 'x-client-chain', verifyHeader: 'x-client-verify' };
const proxies = compileTrustedProxies([nginx, haproxy]);

const refused = (code: string) => expect.objectContaining({ code, status: 401 });
const read = (peer: string | undefined, headers: DistinctHeaders) => readForwardedCertificate(peer, headers, proxies);
const summary = (r: ReturnType<typeof read>) => r && { format: r.proxy.format, leaf: sha256(r.certs.leaf), chain: r.certs.chain.map(sha256) };
const NGINX_OK = { 'x-ssl-client-cert': [NGINX_CERT], 'x-ssl-client-verify': ['SUCCESS'] };

describe('readForwardedCertificate: which peers may send which header', () => {
  it.each(['10.1.2.3', '::ffff:10.1.2.3', '::FFFF:10.1.2.3', 'fd00::1', 'FD00:0:0::1'])('reads the nginx header from trusted peer %s', (peer) => {
    expect(summary(read(peer, NGINX_OK))).toEqual({ format: 'nginx', leaf: LEAF_SHA256, chain: [] });
  });

  it.each(['11.0.0.1', '::ffff:11.0.0.1', '192.168.1.10', 'fe00::1', '::1', '127.0.0.1'])(
    'refuses the nginx header from %s (not trusted for it) with untrusted_proxy',
    (peer) => {
      expect(() => read(peer, NGINX_OK)).toThrow(refused('untrusted_proxy'));
    },
  );

  it('refuses a spoofed header when the peer is unknown or has no address', () => {
    expect(() => read(undefined, NGINX_OK)).toThrow(refused('untrusted_proxy'));
    expect(() => read('not-an-ip', NGINX_OK)).toThrow(refused('untrusted_proxy'));
  });

  it('refuses even an empty spoofed header: presence is the signal', () => {
    expect(() => read('203.0.113.9', { 'x-client-der': [''] })).toThrow(refused('untrusted_proxy'));
  });

  it('reads HAProxy with its chain from its /32, and nginx is not read from there', () => {
    const headers = { 'x-client-der': [HAPROXY_CERT], 'x-client-chain': [HAPROXY_CHAIN], 'x-client-verify': ['0'] };
    expect(summary(read('192.168.1.10', headers))).toEqual({ format: 'haproxy', leaf: LEAF_SHA256, chain: [sha256(INTERMEDIATE_DER)] });
    expect(() => read('10.0.0.1', headers)).toThrow(refused('untrusted_proxy'));
  });

  it('refuses a header a trusted proxy passed through but is not trusted for', () => {
    // peer is the nginx; the client smuggled the HAProxy header and nginx forwarded no cert
    expect(() => read('10.0.0.1', { 'x-client-der': [HAPROXY_CERT] })).toThrow(refused('untrusted_proxy'));
  });

  it('returns null when no configured header is present, from any peer', () => {
    expect(read('10.0.0.1', {})).toBeNull();
    expect(read('203.0.113.9', { 'x-other': ['x'], 'x-ssl-client-verify': ['SUCCESS'] })).toBeNull();
    expect(read('10.0.0.1', { 'x-ssl-client-cert': [] })).toBeNull();
  });

  it('returns null for the captured "no certificate" requests', () => {
    const ing = compileTrustedProxies([{ cidrs: ['10.0.0.0/8'], header: 'ssl-client-cert', format: 'nginx', verifyHeader: 'ssl-client-verify' }]);
    expect(readForwardedCertificate('10.0.0.1', sampleHeaders('ingress-nginx-nocert.headers'), ing)).toBeNull();
    const ha = compileTrustedProxies([{ cidrs: ['10.0.0.0/8'], header: 'x-ssl-client-cert', chainHeader: 'x-ssl-client-chain', format: 'haproxy', verifyHeader: 'x-ssl-client-verify' }]);
    expect(readForwardedCertificate('10.0.0.1', sampleHeaders('haproxy-nocert.headers'), ha)).toBeNull();
    const ap = compileTrustedProxies([{ cidrs: ['10.0.0.0/8'], header: 'x-ssl-client-cert', chainHeader: 'x-ssl-client-cert-chain-0', format: 'apache', verifyHeader: 'x-ssl-client-verify' }]);
    expect(readForwardedCertificate('10.0.0.1', sampleHeaders('apache-nocert.headers'), ap)).toBeNull();
  });
});

describe('readForwardedCertificate: only the entry that owns the peer is read', () => {
  // The review's set-up without the overlap: an nginx (with verifyHeader) owns 10/8, an Envoy
  // (XFCC) owns 172.16/12. nginx strips only its own header, so a client without a certificate
  // can get its own X-Forwarded-Client-Cert through it.
  const XFCC = `Hash=${sha256(ROGUE_DER)};Cert="${encodeURIComponent(`-----BEGIN CERTIFICATE-----\n${Buffer.from(ROGUE_DER).toString('base64')}\n-----END CERTIFICATE-----\n`)}"`;
  const fleet = compileTrustedProxies([
    { cidrs: ['10.0.0.0/8'], header: 'x-ssl-client-cert', format: 'nginx', verifyHeader: 'x-ssl-client-verify' },
    { cidrs: ['172.16.0.0/12'], header: 'x-forwarded-client-cert', format: 'envoy-xfcc' },
  ]);

  it('the other entry\'s header alone, through the owner: 401 untrusted_proxy, never decoded', () => {
    for (const peer of ['10.0.0.5', '::ffff:10.0.0.5']) {
      expect(() => readForwardedCertificate(peer, { 'x-forwarded-client-cert': [XFCC] }, fleet)).toThrow(refused('untrusted_proxy'));
      // Even garbage is refused for its presence, not for failing to decode: it is never read.
      expect(() => readForwardedCertificate(peer, { 'x-forwarded-client-cert': ['garbage'] }, fleet)).toThrow(refused('untrusted_proxy'));
    }
  });

  it('the other entry\'s header next to the owner\'s own: refused, not merged or chosen', () => {
    expect(() => readForwardedCertificate('10.0.0.5', { ...NGINX_OK, 'x-forwarded-client-cert': [XFCC] }, fleet)).toThrow(refused('untrusted_proxy'));
  });

  it('each entry is read from its own peers', () => {
    expect(readForwardedCertificate('10.0.0.5', NGINX_OK, fleet)!.proxy.format).toBe('nginx');
    expect(readForwardedCertificate('172.16.0.9', { 'x-forwarded-client-cert': [XFCC] }, fleet)!.proxy.format).toBe('envoy-xfcc');
    expect(() => readForwardedCertificate('172.16.0.9', NGINX_OK, fleet)).toThrow(refused('untrusted_proxy'));
  });

  it('the same header name under another entry is read with the owner\'s format only', () => {
    const single = compileTrustedProxies([
      { cidrs: ['10.0.0.0/8'], header: 'x-ssl-client-cert', format: 'nginx' },
      { cidrs: ['172.16.0.0/12'], header: 'x-ssl-client-cert', format: 'der-base64' },
    ]);
    expect(readForwardedCertificate('172.16.0.1', { 'x-ssl-client-cert': [HAPROXY_CERT] }, single)!.proxy.format).toBe('der-base64');
    expect(() => readForwardedCertificate('10.0.0.1', { 'x-ssl-client-cert': [HAPROXY_CERT] }, single)).toThrow(
      expect.objectContaining({ code: 'malformed_certificate_header' }),
    );
  });

  it.each([
    ['IPv4 inside IPv4', ['10.0.0.0/8'], ['10.0.0.0/24']],
    ['the same /32 twice', ['127.0.0.1/32'], ['127.0.0.1']],
    ['IPv4 and its mapped IPv6 (hex)', ['10.0.0.0/8'], ['::ffff:a01:0/112']],
    ['IPv4 and its mapped IPv6 (dotted)', ['127.0.0.1'], ['::ffff:127.0.0.1']],
    ['IPv6 inside IPv6', ['fd00::/8'], ['fd00:1::/32']],
    ['a later CIDR of a list', ['192.168.0.0/16', 'fd00::/8'], ['203.0.113.0/24', 'fd00:ab::1']],
  ])('refuses overlapping entries (%s) at compile time, naming both', (_what, a, b) => {
    const err = (() => {
      try {
        compileTrustedProxies([
          { cidrs: a, header: 'x-ssl-client-cert', format: 'nginx' },
          { cidrs: b, header: 'x-forwarded-client-cert', format: 'envoy-xfcc' },
        ]);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    })();
    expect(err).toMatch(/trustedProxies\[0\] \(nginx, header x-ssl-client-cert, cidr .+\) and trustedProxies\[1\] \(envoy-xfcc, header x-forwarded-client-cert, cidr .+\) overlap/);
  });

  it('accepts neighbouring ranges that share no address, and IPv6 outside the mapped space', () => {
    expect(() =>
      compileTrustedProxies([
        { cidrs: ['10.0.0.0/9', '2001:db8::/32'], header: 'a', format: 'nginx' },
        { cidrs: ['10.128.0.0/9', '2001:db9::/32'], header: 'b', format: 'haproxy' },
      ]),
    ).not.toThrow();
  });
});

describe('readForwardedCertificate: duplicates and verification', () => {
  it('refuses a certificate header sent twice (client copy + proxy copy)', () => {
    const rogue = Buffer.from(ROGUE_DER).toString('base64');
    expect(() => read('192.168.1.10', { 'x-client-der': [rogue, HAPROXY_CERT], 'x-client-verify': ['0'] })).toThrow(refused('duplicate_certificate_header'));
  });

  it('refuses a chain header or a status header sent twice', () => {
    expect(() => read('192.168.1.10', { 'x-client-der': [HAPROXY_CERT], 'x-client-chain': [HAPROXY_CHAIN, ''], 'x-client-verify': ['0'] })).toThrow(
      refused('duplicate_certificate_header'),
    );
    expect(() => read('10.0.0.1', { ...NGINX_OK, 'x-ssl-client-verify': ['SUCCESS', 'SUCCESS'] })).toThrow(refused('duplicate_certificate_header'));
  });

  it('refuses when verifyHeader is configured and missing or not a success', () => {
    expect(() => read('10.0.0.1', { 'x-ssl-client-cert': [NGINX_CERT] })).toThrow(refused('proxy_verification_failed'));
    expect(() => read('10.0.0.1', { 'x-ssl-client-cert': [NGINX_CERT], 'x-ssl-client-verify': ['FAILED:self-signed certificate'] })).toThrow(
      refused('proxy_verification_failed'),
    );
    expect(() => read('192.168.1.10', { 'x-client-der': [HAPROXY_CERT], 'x-client-verify': ['21'] })).toThrow(refused('proxy_verification_failed'));
  });

  it('does not consult verifyHeader when no certificate was forwarded', () => {
    expect(read('10.0.0.1', { 'x-ssl-client-cert': [''], 'x-ssl-client-verify': ['NONE'] })).toBeNull();
  });

  it('without verifyHeader, an unverified certificate is returned for the gateway to validate itself', () => {
    const noVerify = compileTrustedProxies([{ cidrs: ['10.0.0.0/8'], header: 'x-ssl-client-cert', format: 'nginx' }]);
    const r = readForwardedCertificate('10.0.0.1', sampleHeaders('nginx-metadata-optional_no_ca-selfsigned.headers'), noVerify);
    expect(r).toBeNull(); // that capture holds only metadata: no certificate header at all
    expect(readForwardedCertificate('10.0.0.1', { 'x-ssl-client-cert': [NGINX_CERT], 'x-ssl-client-verify': ['FAILED:x'] }, noVerify)).not.toBeNull();
  });

  it('passes decoder refusals through (malformed, too large)', () => {
    expect(() => read('10.0.0.1', { ...NGINX_OK, 'x-ssl-client-cert': ['garbage'] })).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => read('10.0.0.1', { ...NGINX_OK, 'x-ssl-client-cert': ['A'.repeat(40000)] })).toThrow(expect.objectContaining({ status: 431 }));
  });

  it('reads the captured HAProxy request as headersDistinct would present it', () => {
    const ha = compileTrustedProxies([{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', chainHeader: 'x-ssl-client-chain', format: 'haproxy', verifyHeader: 'x-ssl-client-verify' }]);
    const r = readForwardedCertificate('::ffff:127.0.0.1', sampleHeaders('haproxy-valid.headers'), ha)!;
    expect([r.certs.leaf, ...r.certs.chain].map(sha256)).toEqual([LEAF_SHA256, sha256(INTERMEDIATE_DER)]);
    expect(() => readForwardedCertificate('127.0.0.1', sampleHeaders('haproxy-selfsigned-crt-ignore-err.headers'), ha)).toThrow(refused('proxy_verification_failed'));
  });
});

describe('compileTrustedProxies', () => {
  it('lower-cases header names so they match headersDistinct keys', () => {
    const p = compileTrustedProxies([{ cidrs: ['10.0.0.0/8'], header: 'X-SSL-Client-Cert', format: 'nginx', verifyHeader: 'X-SSL-Client-Verify' }]);
    expect(readForwardedCertificate('10.0.0.1', NGINX_OK, p)!.proxy.header).toBe('x-ssl-client-cert');
  });

  it('refuses a bad CIDR and a chainHeader on envoy-xfcc at startup', () => {
    expect(() => compileTrustedProxies([{ cidrs: ['10.0.0.0/33'], header: 'h', format: 'nginx' }])).toThrow();
    expect(() => compileTrustedProxies([{ cidrs: ['10.0.0.0/8'], header: 'h', format: 'envoy-xfcc', chainHeader: 'c' }])).toThrow(/chainHeader/);
  });

  it('isTrustedProxy answers for any entry, for v4, v6 and v4-mapped peers', () => {
    expect(isTrustedProxy('::ffff:192.168.1.10', proxies)).toBe(true);
    expect(isTrustedProxy('fd12::1', proxies)).toBe(true);
    expect(isTrustedProxy('192.168.1.11', proxies)).toBe(false);
    expect(isTrustedProxy(undefined, proxies)).toBe(false);
  });

  it('with no trusted proxies no header is configured, so none is ever read', () => {
    expect(readForwardedCertificate('10.0.0.1', NGINX_OK, compileTrustedProxies([]))).toBeNull();
  });
});

describe('readForwardedCertificate remembers decoded header values', () => {
  it('decodes the same value once: the same blobs again, parsed once by identity', async () => {
    const { ParsedCertCache } = await import('../../src/pki/parsing/parse-cache.js');
    const first = read('10.1.2.3', NGINX_OK)!;
    const again = read('10.9.9.9', NGINX_OK)!;
    expect(again.certs.leaf).toBe(first.certs.leaf);
    const cache = new ParsedCertCache();
    expect(cache.parse(again.certs.leaf)).toBe(cache.parse(first.certs.leaf));
    expect(sha256(again.certs.leaf)).toBe(LEAF_SHA256);
  });

  it('never remembers a refusal or mixes up formats and values', () => {
    const bad = { 'x-ssl-client-cert': ['-----BEGIN%20CERTIFICATE-----%0Anope'], 'x-ssl-client-verify': ['SUCCESS'] };
    expect(() => read('10.1.2.3', bad)).toThrow(expect.objectContaining({ code: 'malformed_certificate_header' }));
    expect(() => read('10.1.2.3', bad)).toThrow(expect.objectContaining({ code: 'malformed_certificate_header' }));
    // HAProxy with a separate chain header is decoded each time (not remembered) and still right.
    const h = { 'x-client-der': [HAPROXY_CERT], 'x-client-chain': [HAPROXY_CHAIN], 'x-client-verify': ['0'] };
    expect(summary(read('192.168.1.10', h))).toEqual(summary(read('192.168.1.10', h)));
    expect(summary(read('10.1.2.3', NGINX_OK))?.leaf).toBe(LEAF_SHA256);
  });
});
