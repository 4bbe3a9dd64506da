import { createHash } from 'node:crypto';
import { BoundedMap } from '../util/bounded-map.js';
import { parseCertificate, type ParsedCert } from './certificate.js';

/**
 * Decoding a certificate costs about 0.2 ms (mostly OpenSSL loading its public key); hashing it
 * costs a few microseconds. Workloads log in with the same certificate again and again and every login carries
 * the same intermediates, so parsed certificates are kept by the SHA-256 of their exact DER.
 * ParsedCert is never mutated after parsing, which makes sharing safe.
 */
export class ParsedCertCache {
  private readonly map: BoundedMap<string, ParsedCert>;
  constructor(max = 10_000) {
    this.map = new BoundedMap(max);
  }

  parse(der: Uint8Array): ParsedCert {
    const key = createHash('sha256').update(der).digest('hex');
    let cert = this.map.get(key);
    if (!cert) {
      cert = parseCertificate(der);
      this.map.set(key, cert);
    }
    return cert;
  }
}
