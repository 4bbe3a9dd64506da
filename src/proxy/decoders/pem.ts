import { parsePemCertificates } from '../pem.js';
import type { FormatDecoder } from './format-decoder.js';

/**
 * `pem`: one or more strict PEM blocks, leaf first, LF or CRLF. An HTTP header cannot carry a
 * newline, so this format is for values that reach us by other means (files, the CLI, tests);
 * over HTTP use a format whose terminator escapes the newlines.
 */
export const pemDecoder: FormatDecoder = {
  value: (v) => parsePemCertificates(v, 'pem certificate'),
  chain: (v) => parsePemCertificates(v, 'pem chain'),
};
