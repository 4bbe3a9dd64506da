import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';
import { CertgateClientError } from './errors.js';

/** certgate's answer to login and renew. */
export interface TokenResponse {
  accessToken: string;
  expiresIn: number;
  accessTokenMaxTTL: number;
  tokenType: string;
}

const MAX_BODY = 64 * 1024;

/**
 * POSTs JSON through `agent` (which presents the client certificate) and returns the token
 * response. A non-2xx answer becomes a CertgateClientError carrying certgate's error code, and
 * `retryAfterMs` when the answer had a Retry-After header.
 */
export function postJson(url: URL, body: unknown, agent: Agent, timeoutMs: number): Promise<TokenResponse> {
  const data = JSON.stringify(body);
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: url.protocol === 'http:' ? undefined : agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), accept: 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(Object.assign(new Error('answer too large'), { code: 'ERR_ANSWER_TOO_LARGE' }));
          else chunks.push(c);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          if (status >= 200 && status < 300 && typeof json?.accessToken === 'string' && typeof json.expiresIn === 'number') {
            return resolve(json as unknown as TokenResponse);
          }
          const code = typeof json?.error === 'string' ? json.error : undefined;
          const message = typeof json?.message === 'string' ? json.message : `HTTP ${status}`;
          const err = new CertgateClientError(`${url.pathname}: ${status} ${code ?? ''} ${message}`.replace(/\s+/g, ' '), status, code, json?.reqId as string | undefined, json);
          const retryAfter = Number(res.headers['retry-after']);
          if (Number.isFinite(retryAfter)) Object.assign(err, { retryAfterMs: retryAfter * 1000 });
          reject(err);
        });
        res.on('error', (e) => reject(networkError(url, e)));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(networkError(url, e)));
    req.end(data);
  });
}

function networkError(url: URL, e: Error & { code?: string }): CertgateClientError {
  return new CertgateClientError(`${url.origin}${url.pathname}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ').trim(), undefined, e.code);
}
