import { TLSSocket, type PeerCertificate, type DetailedPeerCertificate } from 'node:tls';
import type { Context } from 'koa';
import { certRefused } from '../errors.js';
import { assertCertificateSize } from '../pki/parsing/parse-cache.js';
import { clientIp, readForwardedCertificate } from '../proxy/trusted.js';
import { chainTooLong } from '../proxy/refusals.js';
import { MAX_CHAIN_LENGTH } from '../proxy/types.js';
import type { PresentedCertificate } from '../identity/authenticate.js';
import { liveOf } from '../live/state.js';
import type { Gateway } from './gateway.js';

/** What the caller checks read of a request: Koa's context, or the forward fast path's view. */
export type RequestView = Pick<Context, 'req' | 'path' | 'state'>;

/** Who is calling: the address policy applies to, and how the request reached us. */
export interface Caller {
  peer: string;
  clientIp: string;
  /** True on the direct mTLS listener. */
  direct: boolean;
}

export function callerOf(ctx: RequestView, gw: Gateway): Caller {
  const peer = ctx.req.socket.remoteAddress ?? '';
  const direct = ctx.req.socket instanceof TLSSocket;
  // On the direct listener nobody sits between us and the client: forwarded headers are ignored.
  const ip = direct ? peer : clientIp(peer, ctx.req.headersDistinct, liveOf(ctx).proxies);
  return { peer, clientIp: ip, direct };
}

/** The DER chain of the TLS peer, leaf first, as OpenSSL handed it to us. */
function tlsPeerChain(socket: TLSSocket): Uint8Array[] {
  const out: Uint8Array[] = [];
  let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | PeerCertificate;
  const seen = new Set<string>();
  while (cert && 'raw' in cert && cert.raw) {
    const key = cert.raw.toString('base64');
    if (seen.has(key)) break;
    seen.add(key);
    // The same cap as forwarded chains (leaf + MAX_CHAIN_LENGTH): path search cost grows with it.
    if (out.length > MAX_CHAIN_LENGTH) throw chainTooLong('the TLS client certificate chain', MAX_CHAIN_LENGTH);
    out.push(new Uint8Array(cert.raw));
    cert = (cert as DetailedPeerCertificate).issuerCertificate;
  }
  return out;
}

/**
 * The client certificate of this request: from the TLS handshake on the direct listener (proof of
 * possession by the TLS stack itself), or from the header of a trusted terminator. Null when the
 * request carries none. Throws for untrusted or malformed forwarding.
 */
export function presentedCertificate(ctx: RequestView, gw: Gateway, caller: Caller): PresentedCertificate | null {
  let ders: Uint8Array[];
  if (caller.direct) {
    ders = tlsPeerChain(ctx.req.socket as TLSSocket);
  } else {
    let forwarded;
    try {
      forwarded = readForwardedCertificate(caller.peer, ctx.req.headersDistinct, liveOf(ctx).proxies);
    } catch (e) {
      if ((e as { code?: string }).code === 'untrusted_proxy') {
        // A spoofing attempt, a missing proxy range, or a header of another entry passed through
        // by this peer's terminator. The reason names the header and the peer, never its value.
        gw.log.warn({ event: 'untrusted_proxy', peer: caller.peer, path: ctx.path, reason: (e as Error).message }, 'certificate header from a peer not trusted for it refused');
      }
      throw e;
    }
    ders = forwarded ? [forwarded.certs.leaf, ...forwarded.certs.chain] : [];
  }
  if (ders.length === 0) return null;
  // Size first, for the whole chain: an oversized certificate is refused before any is parsed.
  for (const der of ders) assertCertificateSize(der);
  const [leaf, ...chain] = ders.map((d, i) => gw.certs.parse(d, i === 0 ? gw.leafAdmission.admit : undefined));
  return { leaf: leaf!, chain };
}

export function requireCertificate(cert: PresentedCertificate | null): PresentedCertificate {
  if (!cert) throw certRefused('certificate_required', 'no client certificate was presented');
  return cert;
}
