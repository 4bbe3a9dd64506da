import { describe, expect, it } from 'vitest';
import { checkVerifyHeader } from '../../src/proxy/verify-header.js';
import { HEADER_FORMATS, type HeaderFormat } from '../../src/proxy/types.js';
import { sampleHeader } from './fixtures.js';

const refused = expect.objectContaining({ code: 'proxy_verification_failed', status: 401 });
const ok = (format: HeaderFormat, v: string | undefined) => () => checkVerifyHeader(format, v);

describe('checkVerifyHeader with the captured status values', () => {
  it.each([
    ['nginx', 'nginx-metadata-valid.headers', 'x-ssl-client-verify'],
    ['nginx', 'ingress-nginx-valid.headers', 'ssl-client-verify'],
    ['apache', 'apache-valid.headers', 'x-ssl-client-verify'],
    ['apache', 'apache-tls12-resumed-session-chain-null.headers', 'x-ssl-client-verify'],
    ['haproxy', 'haproxy-valid.headers', 'x-ssl-client-verify'],
    ['haproxy', 'haproxy-tls12-resumed-session-chain-empty.headers', 'x-ssl-client-verify'],
    ['rfc9440', 'gcp-alb-mtls-custom.headers', 'x-client-cert-chain-verified'],
  ] as const)('%s %s (%s) passes', (format, file, header) => {
    expect(ok(format, sampleHeader(file, header))).not.toThrow();
  });

  it.each([
    ['nginx', 'nginx-metadata-nocert.headers', 'x-ssl-client-verify'],
    ['nginx', 'nginx-metadata-optional_no_ca-selfsigned.headers', 'x-ssl-client-verify'],
    ['nginx', 'nginx-metadata-optional_no_ca-missing-intermediate.headers', 'x-ssl-client-verify'],
    ['nginx', 'ingress-nginx-nocert.headers', 'ssl-client-verify'],
    ['apache', 'apache-nocert.headers', 'x-ssl-client-verify'],
    ['apache', 'apache-optional_no_ca-selfsigned.headers', 'x-ssl-client-verify'],
    ['haproxy', 'haproxy-missing-intermediate-ignore-err.headers', 'x-ssl-client-verify'],
    ['haproxy', 'haproxy-selfsigned-crt-ignore-err.headers', 'x-ssl-client-verify'],
  ] as const)('%s %s (%s) is refused', (format, file, header) => {
    expect(ok(format, sampleHeader(file, header))).toThrow(refused);
  });
});

describe('checkVerifyHeader rules', () => {
  it.each(HEADER_FORMATS)('%s: an absent status is refused', (format) => {
    expect(ok(format, undefined)).toThrow(refused);
  });

  it('matches exactly: no case folding, no prefixes, no other formats\' words', () => {
    for (const v of ['success', 'Success', 'SUCCESSFUL', 'SUCCESS,SUCCESS', '0', '', 'true', 'GENEROUS']) {
      expect(ok('nginx', v), v).toThrow(refused);
    }
    for (const v of ['SUCCESS', '00', '-0', '0x0', '', 'true', ' 1']) expect(ok('haproxy', v), v).toThrow(refused);
  });

  it('ignores OWS around the value, like the header parser does', () => {
    expect(ok('nginx', ' SUCCESS\t')).not.toThrow();
    expect(ok('haproxy', ' 0 ')).not.toThrow();
  });

  it('takes SUCCESS for formats whose terminators have no status of their own', () => {
    for (const f of ['alb', 'envoy-xfcc', 'traefik', 'caddy', 'azure', 'pem', 'der-base64', 'rfc9440'] as const) {
      expect(ok(f, 'SUCCESS')).not.toThrow();
      expect(ok(f, '0')).toThrow(refused);
    }
  });

  it('does not echo more than a short prefix of the status into the message', () => {
    try {
      checkVerifyHeader('nginx', `FAILED:${'x'.repeat(5000)}`);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message.length).toBeLessThan(200);
    }
  });
});
