import { BoundedMap } from '../util/bounded-map.js';
import type { CertificateInfo } from './types.js';

/**
 * The certificates whose index hash (issuer, serial, notAfter, path) this gateway has written in
 * full, and until when that hash lives at least: a later login of the same certificate with the
 * same path sends only its token's field (login.lua). Only a guess about Redis — the hash may have
 * been lost (a restart without persistence, a failover, a flush) — so login.lua checks it and
 * writes nothing when the fields are missing; the login is then sent again in full. Bounded: a
 * forgotten certificate only costs the full fields once more.
 */
export class WrittenCertificateIndex {
  private readonly written = new BoundedMap<string, { until: number; readonly path: readonly string[] }>(1024);

  /** True when the hash should hold the certificate's fields for this path at `now`. */
  holds(cert: CertificateInfo, now: number): boolean {
    const w = this.written.get(cert.sha256);
    return w !== undefined && w.until > now && samePath(w.path, cert.path);
  }

  /** The login wrote (or found) the fields of `cert`, and made its hash live at least until `until`. */
  wrote(cert: CertificateInfo, until: number): void {
    const w = this.written.get(cert.sha256);
    // Moved in place: a set at every login would rehash the map's table now and then (see BoundedMap).
    if (w !== undefined && samePath(w.path, cert.path)) w.until = Math.max(w.until, until);
    else this.written.set(cert.sha256, { until, path: cert.path });
  }
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
