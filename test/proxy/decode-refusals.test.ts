import { describe, expect, it } from 'vitest';
import { decodeForwardedCertificate } from '../../src/proxy/decode.js';
import { HEADER_FORMATS, MAX_CERT_HEADER_BYTES, MAX_CHAIN_LENGTH } from '../../src/proxy/types.js';
import { albEscape, apacheSpaces, ENCODERS, formatOf, nginxEscape, pem } from './encoders.js';
import { INTERMEDIATE_DER, LEAF_DER, LEAF_SHA256, sampleValue, sha256 } from './fixtures.js';

const malformed = expect.objectContaining({ code: 'malformed_certificate_header', status: 400 });
const tooLarge = expect.objectContaining({ code: 'certificate_header_too_large', status: 431 });
const tooLong = expect.objectContaining({ code: 'chain_too_long', status: 400 });
const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64');
const LEAF_B64 = b64(LEAF_DER);

describe('size cap (checked before decoding)', () => {
  it.each(HEADER_FORMATS)('%s: a value over MAX_CERT_HEADER_BYTES is 431, even when it would be absent or garbage', (format) => {
    const big = ' '.repeat(MAX_CERT_HEADER_BYTES + 1);
    expect(() => decodeForwardedCertificate(format, big)).toThrow(tooLarge);
    expect(() => decodeForwardedCertificate(format, `%${'x'.repeat(MAX_CERT_HEADER_BYTES)}`)).toThrow(tooLarge);
  });

  it.each(HEADER_FORMATS)('%s: a chain header over the cap is 431, even with no certificate', (format) => {
    expect(() => decodeForwardedCertificate(format, '', 'A'.repeat(MAX_CERT_HEADER_BYTES + 1))).toThrow(tooLarge);
  });

  it('counts UTF-8 bytes, not characters, for non-latin1 strings', () => {
    const value = '€'.repeat(Math.ceil(MAX_CERT_HEADER_BYTES / 3) + 1);
    expect(() => decodeForwardedCertificate('nginx', value)).toThrow(tooLarge);
  });

  it('accepts a value of exactly the cap (then judges it on its encoding)', () => {
    expect(() => decodeForwardedCertificate('der-base64', 'A'.repeat(MAX_CERT_HEADER_BYTES))).toThrow(malformed);
  });
});

describe('chain length cap', () => {
  const tooMany = [LEAF_DER, ...Array.from({ length: MAX_CHAIN_LENGTH + 1 }, () => INTERMEDIATE_DER)];
  const justEnough = tooMany.slice(0, MAX_CHAIN_LENGTH + 1);

  it.each(Object.keys(ENCODERS) as (keyof typeof ENCODERS)[])('%s: more than MAX_CHAIN_LENGTH chain certificates is chain_too_long', (variant) => {
    const format = formatOf(variant);
    const ok = ENCODERS[variant](justEnough, LEAF_SHA256);
    expect(decodeForwardedCertificate(format, ok.value, ok.chainValue)!.chain).toHaveLength(MAX_CHAIN_LENGTH);
    const bad = ENCODERS[variant](tooMany, LEAF_SHA256);
    expect(() => decodeForwardedCertificate(format, bad.value, bad.chainValue)).toThrow(tooLong);
  });

  it('counts inline and separate-header chain certificates together', () => {
    const value = nginxEscape(pem(justEnough));
    expect(() => decodeForwardedCertificate('nginx', value, nginxEscape(pem([INTERMEDIATE_DER])))).toThrow(tooLong);
  });
});

describe('format-specific refusals', () => {
  it('nginx: raw PEM characters, bad escapes, form-decoded spaces', () => {
    const good = sampleValue('nginx-ssl_client_escaped_cert.value');
    expect(() => decodeForwardedCertificate('nginx', good.replaceAll('%2B', '+'))).toThrow(malformed);
    expect(() => decodeForwardedCertificate('nginx', good.replaceAll('%2B', ' '))).toThrow(malformed);
    expect(() => decodeForwardedCertificate('nginx', good.replace('%0A', '%0'))).toThrow(malformed);
    expect(() => decodeForwardedCertificate('nginx', good.replace('%0A', '%0Z'))).toThrow(malformed);
    expect(() => decodeForwardedCertificate('nginx', `${good}x`)).toThrow(malformed);
  });

  it('nginx: lowercase hex escapes are the same escapes', () => {
    const lower = sampleValue('nginx-ssl_client_escaped_cert.value').replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    expect(sha256(decodeForwardedCertificate('nginx', lower)!.leaf)).toBe(LEAF_SHA256);
  });

  it('alb: a form-decoded value (+ turned into space) is refused, not repaired', () => {
    const good = sampleValue('aws-alb-passthrough-X-Amzn-Mtls-Clientcert.value');
    expect(() => decodeForwardedCertificate('alb', good.replaceAll('+', ' '))).toThrow(malformed);
    expect(() => decodeForwardedCertificate('alb', good.replaceAll('%20', ' ').replaceAll('%0A', '\n'))).toThrow(malformed);
    // fully escaped (+ as %2B) means the same bytes
    expect(sha256(decodeForwardedCertificate('alb', good.replaceAll('+', '%2B'))!.leaf)).toBe(LEAF_SHA256);
  });

  it('haproxy / caddy / azure / der-base64: armor, quotes, whitespace, url-safe or unpadded base64, two certs', () => {
    const bad = [
      `"${LEAF_B64}"`, `${LEAF_B64.slice(0, 100)} ${LEAF_B64.slice(100)}`, LEAF_B64.replaceAll('+', '-').replaceAll('/', '_'),
      LEAF_B64.replace(/=+$/, ''), b64(Buffer.concat([LEAF_DER, INTERMEDIATE_DER])), pem([LEAF_DER]).trim(), `${LEAF_B64},${LEAF_B64}`,
      b64(LEAF_DER.subarray(0, 200)),
    ];
    for (const format of ['haproxy', 'caddy', 'azure', 'der-base64'] as const) {
      for (const v of bad) expect(() => decodeForwardedCertificate(format, v), `${format} ${v.slice(0, 20)}`).toThrow(malformed);
    }
  });

  it('haproxy: a chain with garbage after the last certificate is refused', () => {
    const chain = b64(Buffer.concat([INTERMEDIATE_DER, Buffer.from([0x30, 0x05, 0x01])]));
    expect(() => decodeForwardedCertificate('haproxy', LEAF_B64, chain)).toThrow(malformed);
  });

  it('traefik: empty members, spaces after commas, raw + mixed with escapes', () => {
    const legacy = sampleValue('traefik-pre-v2.9.2-X-Forwarded-Tls-Client-Cert-query-escaped.value');
    for (const v of [`${LEAF_B64},`, `,${LEAF_B64}`, `${LEAF_B64}, ${b64(INTERMEDIATE_DER)}`, legacy.replace('%2B', '+'), legacy.replace('%2F', '%2')]) {
      expect(() => decodeForwardedCertificate('traefik', v)).toThrow(malformed);
    }
  });

  it('apache: doubled spaces, text around the armor, mixed escapes', () => {
    const spaced = sampleValue('apache-SSL_CLIENT_CERT-newlines-as-spaces.value');
    for (const v of [spaced.replace(' MIIC', '  MIIC'), `junk ${spaced}`, spaced.replace('-----END', 'junk -----END'), spaced.replace(' MIIC', '%0aMIIC'), spaced.replace(' MIIC', '\nMIIC')]) {
      expect(() => decodeForwardedCertificate('apache', v)).toThrow(malformed);
    }
  });

  it('apache: several space-separated PEMs in the chain header are all kept', () => {
    const chain = apacheSpaces(pem([INTERMEDIATE_DER, INTERMEDIATE_DER]));
    expect(decodeForwardedCertificate('apache', apacheSpaces(pem([LEAF_DER])), chain)!.chain).toHaveLength(2);
  });

  it('rfc9440: missing colons, parameters, unpadded base64, trailing comma in the chain', () => {
    const leaf = `:${LEAF_B64}:`;
    const inter = `:${b64(INTERMEDIATE_DER)}:`;
    for (const v of [LEAF_B64, `:${LEAF_B64}`, `${leaf};a=1`, `:${LEAF_B64.replace(/=+$/, '')}:`, `${leaf}, ${leaf}`]) {
      expect(() => decodeForwardedCertificate('rfc9440', v), v.slice(-10)).toThrow(malformed);
    }
    for (const c of [`${inter},`, `${inter};x`, `${inter} ${inter}`, `${inter},,${inter}`]) {
      expect(() => decodeForwardedCertificate('rfc9440', leaf, c)).toThrow(malformed);
    }
    expect(decodeForwardedCertificate('rfc9440', leaf, `${inter} ,\t${inter}`)!.chain).toHaveLength(2);
  });

  it('pem: the space-separated Apache form is not PEM', () => {
    expect(() => decodeForwardedCertificate('pem', sampleValue('apache-SSL_CLIENT_CERT-newlines-as-spaces.value'))).toThrow(malformed);
    expect(() => decodeForwardedCertificate('pem', albEscape(pem([LEAF_DER])))).toThrow(malformed);
  });
});

describe('no certificate', () => {
  it.each(HEADER_FORMATS)('%s: empty, whitespace, (null), -, a Caddy placeholder are null', (format) => {
    for (const v of ['', '   ', '\t', '(null)', ' (null) ', '-', '{http.request.tls.client.certificate_der_base64}']) {
      expect(decodeForwardedCertificate(format, v)).toBeNull();
    }
  });

  it('an absent chain value means no chain, not an error', () => {
    for (const c of ['', '(null)', '-', ' ']) {
      expect(decodeForwardedCertificate('haproxy', LEAF_B64, c)).toEqual({ leaf: expect.any(Uint8Array), chain: [] });
    }
  });
});
