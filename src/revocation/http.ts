import { Agent, request, type Dispatcher } from 'undici';

/**
 * The HTTP plumbing shared by the CRL fetcher (fetch.ts) and the OCSP fetcher (ocsp-fetch.ts):
 * URL scheme checks, the private keep-alive Agent, one bounded request (status, declared and
 * actual body size) and the mapping of failures to short one-line reasons — never the body.
 */

/** `raw` as a URL whose protocol is one of `protocols` ('http:', 'https:'); throws a short reason otherwise. */
export function allowedUrl(raw: string, protocols: readonly string[], refused: (protocol: string) => string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error('not a valid URL');
  }
  if (!protocols.includes(u.protocol)) throw new Error(refused(u.protocol));
  return u;
}

/** The injected dispatcher, or a private keep-alive Agent that `close` shuts down. */
export function dispatcherFor(injected: Dispatcher | undefined, timeoutMs: number): { dispatcher: Dispatcher; close(): Promise<void> } {
  const own = injected ? undefined : new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000, connections: 4 });
  return {
    dispatcher: injected ?? own!,
    async close() {
      await own?.close();
    },
  };
}

export interface BoundedRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
  dispatcher: Dispatcher;
  /** The operation's whole time budget (see withTimeBudget). */
  signal: AbortSignal;
  timeoutMs: number;
  maxBytes: number;
  /** Statuses handed back as a redirect (with their Location) instead of being an error. */
  redirectStatuses?: ReadonlySet<number>;
}

/**
 * One request: the body of a 200 answer, read up to `maxBytes`; a redirect status (when asked
 * for) with its Location; any other status is an error. The rest of the body is always dropped.
 */
export async function boundedRequest(
  url: URL,
  opts: BoundedRequest,
): Promise<{ bytes: Uint8Array } | { redirect: { status: number; location: unknown } }> {
  const { timeoutMs, maxBytes } = opts;
  const res = await request(url, {
    method: opts.method,
    dispatcher: opts.dispatcher,
    signal: opts.signal,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    headers: opts.headers,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  const body = res.body;
  try {
    if (opts.redirectStatuses?.has(res.statusCode)) return { redirect: { status: res.statusCode, location: res.headers.location } };
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return { bytes: new Uint8Array(Buffer.concat(chunks, total)) };
  } finally {
    // Drops whatever is left of the body (and the connection, if mid-body); undici reports that
    // as an AbortError on the stream, which is expected here.
    if (!body.destroyed) {
      body.on('error', () => {});
      body.destroy();
    }
  }
}

/**
 * Runs `op` under one AbortSignal.timeout(timeoutMs) budget; any failure becomes an Error with a
 * short reason ("timed out after N ms" once the budget is spent).
 */
export async function withTimeBudget<T>(timeoutMs: number, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await op(signal);
  } catch (e) {
    if (signal.aborted) throw new Error(`timed out after ${timeoutMs} ms`);
    throw new Error(shortReason(e));
  }
}

function shortReason(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } };
  const msg = err?.message ?? String(e);
  const code = err?.code ?? err?.cause?.code;
  // undici's messages are short; keep them on one line.
  return (code && !msg.includes(code) ? `${code}: ${msg}` : msg).replace(/\s+/g, ' ').slice(0, 200);
}
