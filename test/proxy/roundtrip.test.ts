import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeForwardedCertificate } from '../../src/proxy/decode.js';
import { MAX_CHAIN_LENGTH } from '../../src/proxy/types.js';
import { albEscape, apacheEscape, apacheSpaces, ENCODERS, formatOf, nginxEscape, pem } from './encoders.js';
import { INTERMEDIATE_DER, LEAF_DER, LEAF_SHA256, sampleHeader, sampleValue, sha256, tlv } from './fixtures.js';

const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64');
const VARIANTS = Object.keys(ENCODERS) as (keyof typeof ENCODERS)[];

describe('our encoders reproduce the captured samples byte for byte', () => {
  // This is what makes the round-trip below meaningful: the encoders are the terminators.
  it('nginx, ALB, Apache (both), HAProxy, Traefik (both), RFC 9440, base64 formats', () => {
    const leafPem = pem([LEAF_DER]);
    expect(nginxEscape(leafPem)).toBe(sampleValue('nginx-ssl_client_escaped_cert.value'));
    expect(nginxEscape(leafPem)).toBe(sampleHeader('ingress-nginx-valid.headers', 'ssl-client-cert'));
    expect(albEscape(pem([LEAF_DER, INTERMEDIATE_DER]))).toBe(sampleValue('aws-alb-passthrough-X-Amzn-Mtls-Clientcert.value'));
    expect(apacheSpaces(leafPem)).toBe(sampleValue('apache-SSL_CLIENT_CERT-newlines-as-spaces.value'));
    expect(apacheSpaces(pem([INTERMEDIATE_DER]))).toBe(sampleValue('apache-SSL_CLIENT_CERT_CHAIN_0.value'));
    expect(apacheEscape(leafPem)).toBe(sampleValue('apache-escape-expr-lowercase-hex.value'));
    expect(ENCODERS.haproxy([LEAF_DER, INTERMEDIATE_DER], '')).toEqual({
      value: sampleValue('haproxy-ssl_c_der-base64.value'),
      chainValue: sampleValue('haproxy-ssl_c_chain_der-base64.value'),
    });
    expect(ENCODERS.traefik([LEAF_DER, INTERMEDIATE_DER], '').value).toBe(sampleValue('traefik-v2.9.2+-X-Forwarded-Tls-Client-Cert.value'));
    expect(ENCODERS['traefik-legacy']([LEAF_DER, INTERMEDIATE_DER], '').value).toBe(
      sampleValue('traefik-pre-v2.9.2-X-Forwarded-Tls-Client-Cert-query-escaped.value'),
    );
    expect(ENCODERS.rfc9440([LEAF_DER, INTERMEDIATE_DER], '')).toEqual({
      value: sampleValue('rfc9440-Client-Cert.value'),
      chainValue: sampleValue('rfc9440-Client-Cert-Chain.value'),
    });
    for (const f of ['azure-app-service-X-ARR-ClientCert.value', 'caddy-certificate_der_base64.value', 'cloudflare-Cf-Client-Cert-Der-Base64.value']) {
      expect(b64(LEAF_DER)).toBe(sampleValue(f));
    }
  });

  it('Envoy SANITIZE_SET with all details', () => {
    const xfcc =
      `By=spiffe://example.org/ns/edge/sa/gateway;Hash=${LEAF_SHA256};Cert="${nginxEscape(pem([LEAF_DER]))}";` +
      `Chain="${nginxEscape(pem([LEAF_DER, INTERMEDIATE_DER]))}";Subject="CN=test-client,OU=Payments,O=Example\\, Inc.,C=US";` +
      'URI=spiffe://example.org/ns/default/sa/client;DNS=client.example.com';
    expect(xfcc).toBe(sampleValue('envoy-xfcc-sanitize_set-all-details.value'));
  });
});

describe('decode(encode(certs)) = certs', () => {
  it.each(VARIANTS)('%s: the sample leaf and intermediate', (variant) => {
    const enc = ENCODERS[variant]([LEAF_DER, INTERMEDIATE_DER], LEAF_SHA256);
    const certs = decodeForwardedCertificate(formatOf(variant), enc.value, enc.chainValue)!;
    expect([certs.leaf, ...certs.chain].map(sha256)).toEqual([LEAF_SHA256, sha256(INTERMEDIATE_DER)]);
  });

  // Arbitrary DER-shaped blobs (a SEQUENCE of OCTET STRINGs): exercises every byte value in
  // every base64 position, escaping of + / =, long-form lengths, and chains up to the cap.
  const derBlob = fc
    .array(fc.uint8Array({ maxLength: 160 }), { minLength: 1, maxLength: 3 })
    .map((parts) => tlv(0x30, Buffer.concat(parts.map((p) => tlv(0x04, p)))));
  const certList = fc.array(derBlob, { minLength: 1, maxLength: MAX_CHAIN_LENGTH + 1 });

  it.each(VARIANTS)('%s: arbitrary DER blobs, chains of 0..MAX_CHAIN_LENGTH', (variant) => {
    fc.assert(
      fc.property(certList, (certs) => {
        const enc = ENCODERS[variant](certs, sha256(certs[0]!));
        const out = decodeForwardedCertificate(formatOf(variant), enc.value, enc.chainValue)!;
        expect([out.leaf, ...out.chain].map((d) => Buffer.from(d).toString('hex'))).toEqual(
          certs.map((d) => Buffer.from(d).toString('hex')),
        );
      }),
      { numRuns: 150 },
    );
  });
});
