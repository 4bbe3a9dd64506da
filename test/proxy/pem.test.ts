import { describe, expect, it } from 'vitest';
import { parsePemCertificates } from '../../src/proxy/pem.js';
import { pem } from './encoders.js';
import { INTERMEDIATE_DER, LEAF_DER, LEAF_SHA256, sha256 } from './fixtures.js';

const malformed = expect.objectContaining({ code: 'malformed_certificate_header', status: 400 });
const LEAF_PEM = pem([LEAF_DER]);
const parse = (text: string) => () => parsePemCertificates(text, 'test');

describe('parsePemCertificates (strict RFC 7468)', () => {
  it('parses one or several blocks, in order, with LF or CRLF and with or without the final newline', () => {
    expect(parsePemCertificates(pem([LEAF_DER, INTERMEDIATE_DER]), 't').map(sha256)).toEqual([LEAF_SHA256, sha256(INTERMEDIATE_DER)]);
    expect(parsePemCertificates(LEAF_PEM.replaceAll('\n', '\r\n'), 't').map(sha256)).toEqual([LEAF_SHA256]);
    expect(parsePemCertificates(LEAF_PEM.trimEnd(), 't').map(sha256)).toEqual([LEAF_SHA256]);
  });

  it('accepts other body line lengths (76-column tools) and blank lines between blocks', () => {
    const b64 = Buffer.from(LEAF_DER).toString('base64');
    const wide = `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{1,76}/g, '$&\n')}-----END CERTIFICATE-----\n`;
    expect(parsePemCertificates(`${wide}\n\n${wide}`, 't')).toHaveLength(2);
  });

  it('refuses explanatory text, other labels and encapsulated headers', () => {
    expect(parse(`subject=CN=x\n${LEAF_PEM}`)).toThrow(malformed);
    expect(parse(`${LEAF_PEM}trailing`)).toThrow(malformed);
    expect(parse(LEAF_PEM.replaceAll('CERTIFICATE', 'TRUSTED CERTIFICATE'))).toThrow(malformed);
    expect(parse(LEAF_PEM.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n'))).toThrow(malformed);
    expect(parse(LEAF_PEM.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE----- '))).toThrow(malformed);
  });

  it('refuses whitespace, blank lines or bad characters inside a block', () => {
    expect(parse(LEAF_PEM.replace('\nMIIC', '\n MIIC'))).toThrow(malformed);
    expect(parse(LEAF_PEM.replace('\nMIIC', '\n\nMIIC'))).toThrow(malformed);
    expect(parse(LEAF_PEM.replace('\nMIIC', '\n\tMIIC'))).toThrow(malformed);
    expect(parse(LEAF_PEM.replace('MIIC', 'MI-C'))).toThrow(malformed);
  });

  it('refuses a missing END, an empty body, no block at all, and a body that is not one DER SEQUENCE', () => {
    expect(parse(LEAF_PEM.replace('-----END CERTIFICATE-----\n', ''))).toThrow(malformed);
    expect(parse('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n')).toThrow(malformed);
    expect(parse('')).toThrow(malformed);
    expect(parse('\n\n')).toThrow(malformed);
    expect(parse('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).toThrow(malformed);
  });

  it('refuses padding in the middle of the body', () => {
    const b64 = Buffer.from(LEAF_DER).toString('base64');
    expect(parse(`-----BEGIN CERTIFICATE-----\nMIIC=\n${b64.slice(4)}\n-----END CERTIFICATE-----\n`)).toThrow(malformed);
  });
});
