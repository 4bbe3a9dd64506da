import { certRefused } from '../errors.js';
import { overlappingProxyEntries } from './overlap.js';
import { CidrSet, normalizeIp } from '../util/cidr.js';
import { decodeForwardedCertificate, supportsChainHeader } from './decode.js';
import type { ForwardedCerts, HeaderFormat, TrustedProxyConfig } from './types.js';
import { BoundedMap } from '../util/bounded-map.js';
import { checkVerifyHeader } from './verify-header.js';

/** node's `req.headersDistinct`: lower-case names, every field line kept separately. */
export type DistinctHeaders = Record<string, string[] | undefined>;

interface CompiledProxy {
  readonly config: TrustedProxyConfig;
  readonly cidrs: CidrSet;
}

/** `trustedProxies` ready for per-request matching; build once at startup. */
export interface CompiledProxies {
  readonly entries: readonly CompiledProxy[];
  /** Union of every entry's CIDRs: "is this address one of our proxies?" (for X-Forwarded-For). */
  readonly any: CidrSet;
}

/**
 * Compiles the config once. Throws (a startup error, not a request error) on a bad CIDR, a
 * `chainHeader` on a format that carries its chain inline (envoy-xfcc), or two entries whose
 * ranges overlap: each peer must be owned by exactly one entry (the config schema refuses the
 * same; this guards every other way in).
 */
export function compileTrustedProxies(configs: readonly TrustedProxyConfig[]): CompiledProxies {
  const overlap = overlappingProxyEntries(configs)[0];
  if (overlap) throw new Error(overlap.message);
  const entries = configs.map((c, i) => {
    if (c.chainHeader !== undefined && !supportsChainHeader(c.format)) {
      throw new Error(`trustedProxies[${i}].chainHeader: format ${c.format} carries the chain in its own header`);
    }
    const config: TrustedProxyConfig = {
      ...c,
      header: c.header.toLowerCase(),
      ...(c.chainHeader !== undefined && { chainHeader: c.chainHeader.toLowerCase() }),
      ...(c.verifyHeader !== undefined && { verifyHeader: c.verifyHeader.toLowerCase() }),
    };
    return { config, cidrs: new CidrSet(c.cidrs) };
  });
  return { entries, any: new CidrSet(configs.flatMap((c) => c.cidrs)) };
}

/** True when the TCP peer is inside any trusted proxy's CIDRs. */
export const isTrustedProxy = (peer: string | undefined, proxies: CompiledProxies): boolean =>
  proxies.any.contains(peer);

const present = (lines: string[] | undefined): lines is string[] => lines !== undefined && lines.length > 0;

/**
 * The single field line of `name`, or undefined. Two lines of a cert, chain or status header
 * are refused: a client-sent copy that the terminator appended to instead of replacing must
 * never be merged (Node would join them with ", " into a comma-separated format).
 */
function single(headers: DistinctHeaders, name: string): string | undefined {
  const lines = headers[name];
  if (!present(lines)) return undefined;
  if (lines.length > 1) throw certRefused('duplicate_certificate_header', `header ${name} appears ${lines.length} times`);
  return lines[0];
}

/**
 * The certificate a trusted terminator forwarded, or null when none was forwarded.
 *
 * The TCP `peer` is owned by at most one entry (overlapping ranges are refused at startup), and
 * only that entry's headers are ever read. Any other entry's certificate header in the request
 * — from a peer no entry trusts, or passed through by the owner, which strips only its own — is a
 * forgery or a missing proxy range: 401 `untrusted_proxy` (the caller logs it), and the header
 * is never decoded. Then: 401 `duplicate_certificate_header`, the decoder's refusals
 * (431/400/401), and, when `verifyHeader` is configured and a certificate was forwarded, 401
 * `proxy_verification_failed`.
 */
export function readForwardedCertificate(
  peer: string | undefined,
  headers: DistinctHeaders,
  proxies: CompiledProxies,
): { proxy: TrustedProxyConfig; certs: ForwardedCerts } | null {
  const owner = proxies.entries.find((e) => e.cidrs.contains(peer));
  // Entries may share a header name (two nginx fleets); a name the owner reads is its own.
  const foreign = proxies.entries.find((e) => e.config.header !== owner?.config.header && present(headers[e.config.header]));
  if (foreign) {
    const from = normalizeIp(peer) ?? 'unknown peer';
    throw certRefused('untrusted_proxy', `certificate header ${foreign.config.header} from ${from}, which is not a trusted proxy for it`);
  }
  if (!owner || !present(headers[owner.config.header])) return null;

  const { config } = owner;
  const value = single(headers, config.header)!;
  const chainValue = config.chainHeader === undefined ? undefined : single(headers, config.chainHeader);
  const certs = chainValue === undefined ? decodeRemembered(config.format, value) : decodeForwardedCertificate(config.format, value, chainValue);
  if (!certs) return null;
  if (config.verifyHeader !== undefined) checkVerifyHeader(config.format, single(headers, config.verifyHeader));
  return { proxy: config, certs };
}

/**
 * Header values decoded before, per format, by their exact text: a workload logs in with the same
 * certificate again and again, and percent-decoding, base64 and DER framing cost more than the rest
 * of reading a header. Only successful decodes of values up to 8 KiB are kept (~256 × 2 × 8 KiB at
 * most); the blobs are shared and never written to (ParsedCertCache knows them by identity).
 */
const DECODED_MAX_VALUE = 8 * 1024;
const decoded = new Map<HeaderFormat, BoundedMap<string, ForwardedCerts | null>>();

function decodeRemembered(format: HeaderFormat, value: string): ForwardedCerts | null {
  if (value.length > DECODED_MAX_VALUE) return decodeForwardedCertificate(format, value);
  let byValue = decoded.get(format);
  if (!byValue) decoded.set(format, (byValue = new BoundedMap(256)));
  const known = byValue.get(value);
  if (known !== undefined) return known;
  const certs = decodeForwardedCertificate(format, value);
  byValue.set(value, certs);
  return certs;
}

/** `1.2.3.4:5678` and `[v6]:port` appear in X-Forwarded-For from some proxies (Azure). */
function parseForwardedIp(entry: string): string | null {
  const direct = normalizeIp(entry);
  if (direct) return direct;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  if (v4) return normalizeIp(v4[1]);
  const v6 = /^\[([^\]]+)\]:\d{1,5}$/.exec(entry);
  return v6 ? normalizeIp(v6[1]) : null;
}

/**
 * The client's address for IP policies. From an untrusted peer: the peer itself; X-Forwarded-For
 * is ignored, since anyone can write it. From a trusted proxy: walk X-Forwarded-For (all field
 * lines, in order, comma lists) from the right, skipping addresses of trusted proxies; the first
 * other address is the client. Everything left of it was written by the client and is ignored.
 * If every entry is a trusted proxy, the left-most. An unparsable entry (garbage, `unknown`, an
 * empty member) met on the way stops the walk: we cannot tell who wrote it, so we fail safe to the
 * peer address, which policies treat as the proxy, not as a client that could be allowed.
 * Returns normalized addresses (IPv4-mapped IPv6 as IPv4); '' when the socket has no address.
 */
export function clientIp(peer: string | undefined, headers: DistinctHeaders, proxies: CompiledProxies): string {
  const peerIp = normalizeIp(peer);
  if (!peerIp) return '';
  if (!proxies.any.contains(peerIp)) return peerIp;
  const entries = (headers['x-forwarded-for'] ?? []).flatMap((line) => line.split(',')).map((e) => e.trim());
  let leftmost: string | null = null;
  for (let i = entries.length - 1; i >= 0; i--) {
    const ip = parseForwardedIp(entries[i]!);
    if (!ip) return peerIp;
    if (!proxies.any.contains(ip)) return ip;
    leftmost = ip;
  }
  return leftmost ?? peerIp;
}
