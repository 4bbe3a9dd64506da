import { describe, expect, it } from 'vitest';
import { decodeForwardedCertificate } from '../../src/proxy/decode.js';
import type { ForwardedCerts, HeaderFormat } from '../../src/proxy/types.js';
import { parseXfcc } from '../../src/proxy/xfcc.js';
import {
  INTERMEDIATE_DER, LEAF_DER, LEAF_SHA256, ROGUE_DER, ROOT_DER, sampleHeader, sampleNames, sampleValue, sha256,
} from './fixtures.js';

const hashes = (c: ForwardedCerts | null) => c && { leaf: sha256(c.leaf), chain: c.chain.map(sha256) };
const LEAF = LEAF_SHA256;
const INTERMEDIATE = sha256(INTERMEDIATE_DER);
const ROGUE = sha256(ROGUE_DER);

type Source = { file: string; header?: string };
interface Case {
  format: HeaderFormat;
  value: Source;
  chain?: Source;
  /** Expected SHA-256 of leaf and chain, null for "no certificate", or the refusal code. */
  expect: { leaf: string; chain: string[] } | null | string;
}

const read = (s: Source) => (s.header ? sampleHeader(s.file, s.header) : sampleValue(s.file));

/** Every header value in the samples, what our decoder must make of it. */
const CASES: Case[] = [
  // nginx / ingress-nginx ($ssl_client_escaped_cert), captured from nginx 1.22
  { format: 'nginx', value: { file: 'nginx-ssl_client_escaped_cert.value' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'nginx', value: { file: 'ingress-nginx-valid.headers', header: 'ssl-client-cert' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'nginx', value: { file: 'nginx-ssl_client_cert-DEPRECATED-lf-tab-folded.value' }, expect: 'malformed_certificate_header' },
  { format: 'nginx', value: { file: 'nginx-ssl_client_raw_cert-BREAKS-HTTP.value' }, expect: 'malformed_certificate_header' },
  // HAProxy 2.6: base64 DER leaf, base64 of concatenated DER chain (empty on resumption)
  { format: 'haproxy', value: { file: 'haproxy-ssl_c_der-base64.value' }, chain: { file: 'haproxy-ssl_c_chain_der-base64.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'haproxy', value: { file: 'haproxy-valid.headers', header: 'x-ssl-client-cert' }, chain: { file: 'haproxy-valid.headers', header: 'x-ssl-client-chain' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'haproxy', value: { file: 'haproxy-valid.headers', header: 'x-ssl-client-cert-noquote' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'haproxy', value: { file: 'haproxy-tls12-resumed-session-chain-empty.headers', header: 'x-ssl-client-cert' }, chain: { file: 'haproxy-tls12-resumed-session-chain-empty.headers', header: 'x-ssl-client-chain' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'haproxy', value: { file: 'haproxy-missing-intermediate-ignore-err.headers', header: 'x-ssl-client-cert' }, chain: { file: 'haproxy-missing-intermediate-ignore-err.headers', header: 'x-ssl-client-chain' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'haproxy', value: { file: 'haproxy-selfsigned-crt-ignore-err.headers', header: 'x-ssl-client-cert' }, chain: { file: 'haproxy-selfsigned-crt-ignore-err.headers', header: 'x-ssl-client-chain' }, expect: { leaf: ROGUE, chain: [] } },
  { format: 'haproxy', value: { file: 'haproxy-nocert.headers', header: 'x-ssl-client-cert' }, chain: { file: 'haproxy-nocert.headers', header: 'x-ssl-client-chain' }, expect: null },
  // Apache httpd 2.4
  { format: 'apache', value: { file: 'apache-SSL_CLIENT_CERT-newlines-as-spaces.value' }, chain: { file: 'apache-SSL_CLIENT_CERT_CHAIN_0.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'apache', value: { file: 'apache-SSL_CLIENT_CERT-newlines-as-spaces.value' }, chain: { file: 'apache-tls12-resumed-session-chain-null.headers', header: 'x-ssl-client-cert-chain-0' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'apache', value: { file: 'apache-escape-expr-lowercase-hex.value' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'apache', value: { file: 'apache-SSL_CLIENT_CERT_CHAIN_0.value' }, expect: { leaf: INTERMEDIATE, chain: [] } },
  { format: 'apache', value: { file: 'apache-nocert.headers', header: 'x-ssl-client-cert' }, chain: { file: 'apache-nocert.headers', header: 'x-ssl-client-cert-chain-0' }, expect: null },
  { format: 'apache', value: { file: 'apache-nocert.headers', header: 'x-ssl-client-cert-escaped' }, expect: null },
  // Caddy 2.6.2
  { format: 'caddy', value: { file: 'caddy-certificate_der_base64.value' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'caddy', value: { file: 'caddy-2.6.2-valid.headers', header: 'x-client-cert-der-b64' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'caddy', value: { file: 'caddy-2.6.2-mode-request-selfsigned.headers', header: 'x-client-cert-der-b64' }, expect: { leaf: ROGUE, chain: [] } },
  { format: 'caddy', value: { file: 'caddy-2.6.2-nocert-literal-placeholders.headers', header: 'x-client-cert-der-b64' }, expect: null },
  // AWS ALB (computed)
  { format: 'alb', value: { file: 'aws-alb-passthrough-X-Amzn-Mtls-Clientcert.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'alb', value: { file: 'aws-alb-verify.headers', header: 'x-amzn-mtls-clientcert-leaf' }, expect: { leaf: LEAF, chain: [] } },
  // Envoy / Istio XFCC (computed)
  { format: 'envoy-xfcc', value: { file: 'envoy-xfcc-sanitize_set-all-details.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  // nearest hop (the sidecar's element) carries only Hash/URI: nothing to validate
  { format: 'envoy-xfcc', value: { file: 'istio-xfcc-gateway-then-sidecar-2-elements.value' }, expect: null },
  { format: 'envoy-xfcc', value: { file: 'istio-xfcc-sidecar-default-mesh-hop.value' }, expect: null },
  // first element repeats Hash (`Hash=0000` smuggled after a quoted Subject): injection, refused
  { format: 'envoy-xfcc', value: { file: 'xfcc-ADVERSARIAL-unquoted-uri.value' }, expect: 'malformed_certificate_header' },
  // Traefik (computed)
  { format: 'traefik', value: { file: 'traefik-v2.9.2+-X-Forwarded-Tls-Client-Cert.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'traefik', value: { file: 'traefik-pre-v2.9.2-X-Forwarded-Tls-Client-Cert-query-escaped.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  // the -Info header holds DNs, not a certificate: pointing `header` at it is refused
  { format: 'traefik', value: { file: 'traefik-X-Forwarded-Tls-Client-Cert-Info.value' }, expect: 'malformed_certificate_header' },
  // Azure, Cloudflare, RFC 9440 / GCP (computed)
  { format: 'azure', value: { file: 'azure-app-service-X-ARR-ClientCert.value' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'der-base64', value: { file: 'cloudflare-Cf-Client-Cert-Der-Base64.value' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'rfc9440', value: { file: 'rfc9440-Client-Cert.value' }, chain: { file: 'rfc9440-Client-Cert-Chain.value' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'rfc9440', value: { file: 'cloudflare-rfc9440-transform-rule.headers', header: 'client-cert' }, chain: { file: 'cloudflare-rfc9440-transform-rule.headers', header: 'client-cert-chain' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'rfc9440', value: { file: 'gcp-alb-mtls-custom.headers', header: 'x-client-cert-leaf' }, chain: { file: 'gcp-alb-mtls-custom.headers', header: 'x-client-cert-chain' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  // the reference PEM/DER files themselves
  { format: 'pem', value: { file: 'cert-client.pem' }, expect: { leaf: LEAF, chain: [] } },
  { format: 'pem', value: { file: 'cert-client-chain.pem' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'pem', value: { file: 'cert-client.pem' }, chain: { file: 'cert-intermediate.pem' }, expect: { leaf: LEAF, chain: [INTERMEDIATE] } },
  { format: 'pem', value: { file: 'cert-ca.pem' }, expect: { leaf: sha256(ROOT_DER), chain: [] } },
  { format: 'pem', value: { file: 'cert-rogue.pem' }, expect: { leaf: ROGUE, chain: [] } },
  // raw nginx PEM is fine as `pem` (only the nginx format forbids unescaped newlines)
  { format: 'pem', value: { file: 'nginx-ssl_client_raw_cert-BREAKS-HTTP.value' }, expect: { leaf: LEAF, chain: [] } },
];

/** Samples without a certificate header; they feed the verifyHeader and metadata checks. */
const METADATA_ONLY = [
  'apache-optional_no_ca-selfsigned.headers', 'apache-valid.headers', 'ingress-nginx-nocert.headers',
  'nginx-metadata-nocert.headers', 'nginx-metadata-optional_no_ca-missing-intermediate.headers',
  'nginx-metadata-optional_no_ca-selfsigned.headers', 'nginx-metadata-valid.headers', 'cert-client.der',
];

describe('every captured and computed sample', () => {
  it.each(CASES.map((c) => [`${c.format} ← ${c.value.file}${c.value.header ? ` ${c.value.header}` : ''}${c.chain ? ` + ${c.chain.file}` : ''}`, c] as const))(
    '%s',
    (_, c) => {
      const run = () => decodeForwardedCertificate(c.format, read(c.value), c.chain && read(c.chain));
      if (typeof c.expect === 'string') {
        expect(run).toThrow(expect.objectContaining({ code: c.expect, status: 400 }));
      } else {
        expect(hashes(run())).toEqual(c.expect);
      }
    },
  );

  it('covers every file in test/fixtures/samples', () => {
    const used = new Set([...CASES.flatMap((c) => [c.value.file, c.chain?.file]), ...METADATA_ONLY]);
    used.add('cert-intermediate.pem');
    expect(sampleNames().filter((n) => !used.has(n))).toEqual([]);
  });

  it('decodes the leaf to exactly cert-client.der, byte for byte', () => {
    const certs = decodeForwardedCertificate('nginx', sampleValue('nginx-ssl_client_escaped_cert.value'))!;
    expect(Buffer.from(certs.leaf).equals(LEAF_DER)).toBe(true);
    expect(sha256(LEAF_DER)).toBe(LEAF_SHA256);
  });

  it('gives each blob its own ArrayBuffer so .buffer is safe for asn1js/pkijs', () => {
    for (const c of CASES) {
      if (typeof c.expect !== 'object' || c.expect === null) continue;
      const certs = decodeForwardedCertificate(c.format, read(c.value), c.chain && read(c.chain))!;
      for (const der of [certs.leaf, ...certs.chain]) {
        expect(der.byteOffset).toBe(0);
        expect(der.buffer.byteLength).toBe(der.length);
      }
    }
  });
});

describe('sample metadata agrees with the decoded DER', () => {
  it('Caddy X-Client-Fingerprint is the SHA-256 of the decoded leaf', () => {
    for (const file of ['caddy-2.6.2-valid.headers', 'caddy-2.6.2-mode-request-selfsigned.headers']) {
      const certs = decodeForwardedCertificate('caddy', sampleHeader(file, 'x-client-cert-der-b64'))!;
      expect(sha256(certs.leaf)).toBe(sampleHeader(file, 'x-client-fingerprint'));
    }
  });

  it('GCP X-Client-Cert-Hash is the base64 SHA-256 of the decoded leaf', () => {
    const certs = decodeForwardedCertificate('rfc9440', sampleHeader('gcp-alb-mtls-custom.headers', 'x-client-cert-leaf'))!;
    expect(Buffer.from(sha256(certs.leaf), 'hex').toString('base64')).toBe(sampleHeader('gcp-alb-mtls-custom.headers', 'x-client-cert-hash'));
  });

  it('the Istio gateway element (before the sidecar appended its own) carries the client leaf', () => {
    const header = sampleValue('istio-xfcc-gateway-then-sidecar-2-elements.value');
    const [gateway, sidecar] = parseXfcc(header);
    expect(sidecar!.get('cert')).toBeUndefined();
    expect(sidecar!.get('uri')).toEqual(['spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account']);
    // what the app would get with the sidecar set to FORWARD_ONLY: the gateway element alone
    const gatewayOnly = header.slice(0, header.indexOf(',By=spiffe://cluster.local'));
    expect(hashes(decodeForwardedCertificate('envoy-xfcc', gatewayOnly))).toEqual({ leaf: LEAF, chain: [] });
    expect(gateway!.get('hash')).toEqual([LEAF_SHA256]);
  });

  it('the adversarial XFCC parses into two elements; the forged By/URI is its own element', () => {
    const elements = parseXfcc(sampleValue('xfcc-ADVERSARIAL-unquoted-uri.value').replace(';Hash=0000', ''));
    expect(elements).toHaveLength(2);
    expect(elements[0]!.get('subject')).toEqual(['CN=a\\,b "q"']);
    expect(elements[0]!.get('uri')).toEqual(['spiffe://evil/x']);
    expect(Object.fromEntries(elements[1]!)).toEqual({ by: ['spiffe://forged'], uri: ['spiffe://admin'] });
  });

  it('without the repeated Hash, the adversarial XFCC is "no certificate": its last hop has no Cert', () => {
    const value = sampleValue('xfcc-ADVERSARIAL-unquoted-uri.value').replace(';Hash=0000', '');
    expect(decodeForwardedCertificate('envoy-xfcc', value)).toBeNull();
  });
});
