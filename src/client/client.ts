import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { Agent as UndiciAgent, fetch as undiciFetch, type Dispatcher, type RequestInfo, type RequestInit, type Response } from 'undici';
import { installAxiosInterceptor, type AxiosLike } from './axios.js';
import { BearerDispatcher } from './dispatcher.js';
import { CertgateClientError, isTransient } from './errors.js';
import { withRetry } from './retry.js';
import { postJson, type TokenResponse } from './transport.js';
import type { CertgateClientOptions, ClientEvent, Pem, TokenInfo } from './types.js';

const LOGIN_PATH = '/api/v1/auth/tls-cert-auth/login';
const RENEW_PATH = '/api/v1/auth/token/renew';

/**
 * A certgate access token on demand: logs in with the client certificate, caches the token, renews
 * it before it expires, logs in again when renewal is refused, and retries outages with backoff.
 * Concurrent callers share one login or renewal.
 */
export class CertgateClient {
  /** An undici Dispatcher that adds `Authorization: Bearer <token>` to every request it sends. */
  readonly dispatcher: Dispatcher;
  private readonly base: URL;
  private readonly now: () => number;
  private loginAgent: HttpsAgent;
  private readonly bearer: BearerDispatcher;
  private current: TokenInfo | undefined;
  private inflight: Promise<TokenInfo> | undefined;
  private mustLogin = false;
  private closed = false;
  /** A copy: setCredentials changes it, never the caller's object. */
  private readonly opts: CertgateClientOptions;

  constructor(options: CertgateClientOptions) {
    if (!options?.url || !options.cert || !options.key) throw new TypeError('CertgateClient: url, cert and key are required');
    const opts = (this.opts = { ...options });
    this.base = new URL(opts.url);
    this.now = opts.now ?? Date.now;
    this.loginAgent = loginAgentFor(opts);
    this.bearer = new BearerDispatcher(callAgentFor(opts), () => this.token());
    this.dispatcher = this.bearer;
  }

  /** A valid access token (cached; renewed or re-issued when due). */
  async token(): Promise<string> {
    return (await this.tokenInfo()).accessToken;
  }

  /** The current token with its schedule; the same single-flight path as token(). */
  tokenInfo(): Promise<TokenInfo> {
    if (this.closed) return Promise.reject(new CertgateClientError('CertgateClient is closed'));
    const cur = this.current;
    if (cur && !this.mustLogin && this.now() < cur.refreshAt) return Promise.resolve(cur);
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /**
   * New certificate files (they rotate too): later logins present them, and the next token() logs
   * in with them instead of renewing a token issued for the old certificate.
   */
  setCredentials(creds: { cert: Pem; key: Pem; ca?: Pem }): void {
    Object.assign(this.opts, creds);
    const old = this.loginAgent;
    this.loginAgent = loginAgentFor(this.opts);
    old.destroy();
    void this.bearer.replace(callAgentFor(this.opts));
    this.mustLogin = true;
  }

  /** fetch (undici) with the bearer header; a relative URL resolves against `url`. */
  fetch(input: RequestInfo, init: RequestInit = {}): Promise<Response> {
    const target = typeof input === 'string' ? new URL(input, this.base).toString() : input;
    return undiciFetch(target, { ...init, dispatcher: this.dispatcher });
  }

  /** Installs a request interceptor on that axios instance; returns the interceptor's id. */
  axios(instance: AxiosLike): number {
    return installAxiosInterceptor(instance, () => this.token());
  }

  /** Releases connections. The token itself stays valid until it expires. */
  async close(): Promise<void> {
    this.closed = true;
    this.loginAgent.destroy();
    await this.bearer.close();
  }

  private async refresh(): Promise<TokenInfo> {
    const cur = this.current;
    let op: 'login' | 'renew' = 'login';
    try {
      if (cur && !this.mustLogin && this.now() < cur.expiresAt && cur.expiresAt < cur.maxExpiresAt) {
        op = 'renew';
        try {
          const start = this.now();
          const res = await this.call('renew', RENEW_PATH, { accessToken: cur.accessToken });
          this.emit({ type: 'renew', expiresIn: res.expiresIn });
          return this.keep(res, start, cur.maxExpiresAt);
        } catch (e) {
          // Refused (max TTL reached, revoked, identity changed…): only a new login helps.
          if (!(e instanceof CertgateClientError) || e.status === undefined || isTransient(e)) throw e;
          this.emit({ type: 'renew_refused', status: e.status, code: e.code });
          this.current = undefined;
          op = 'login';
        }
      }
      const start = this.now();
      const body = this.opts.identityId ? { identityId: this.opts.identityId } : {};
      const res = await this.call('login', LOGIN_PATH, body);
      this.mustLogin = false;
      this.emit({ type: 'login', expiresIn: res.expiresIn, accessTokenMaxTTL: res.accessTokenMaxTTL, identityId: this.opts.identityId });
      return this.keep(res, start, start + res.accessTokenMaxTTL * 1000);
    } catch (e) {
      const err = e as CertgateClientError;
      this.emit({ type: 'error', operation: op, message: err.message, status: err.status, code: err.code });
      // certgate unreachable but the token still valid: keep serving it, try again half-way to expiry.
      const still = this.current;
      const now = this.now();
      if (still && isTransient(e) && now < still.expiresAt) {
        still.refreshAt = now + (still.expiresAt - now) / 2;
        return still;
      }
      throw e;
    }
  }

  private call(operation: 'login' | 'renew', path: string, body: unknown): Promise<TokenResponse> {
    const url = new URL(path, this.base);
    return withRetry(() => postJson(url, body, this.loginAgent, this.opts.timeoutMs ?? 10_000), this.opts.retry ?? {}, {
      sleep: this.opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: this.opts.random ?? Math.random,
      onRetry: (attempt, delayMs, e) => this.emit({ type: 'retry', operation, attempt, delayMs, reason: (e as Error).message }),
    });
  }

  /**
   * certgate answers in whole seconds: count the token's life from before the request and shave a
   * safety margin, so the client never believes a token valid that certgate already refuses.
   */
  private keep(res: TokenResponse, start: number, maxExpiresAt: number): TokenInfo {
    const life = res.expiresIn * 1000;
    const expiresAt = start + life - Math.min(1000, life / 4);
    const renewBefore = Math.min((this.opts.renewBeforeSeconds ?? 60) * 1000, (expiresAt - start) / 2);
    this.current = { accessToken: res.accessToken, expiresAt, refreshAt: expiresAt - renewBefore, maxExpiresAt };
    return this.current;
  }

  private emit(e: ClientEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      /* a logging callback must not break token delivery */
    }
  }
}

/** Login and renew present the certificate: the TLS handshake proves possession of the key. */
function loginAgentFor(o: CertgateClientOptions): HttpsAgent {
  return new HttpsAgent({ cert: o.cert, key: o.key, ca: o.ca, keepAlive: true });
}

/**
 * Calls with the token: the system roots plus `ca` (so both certgate's routes and public services
 * verify), and the certificate for servers that ask for it (tokens bound with cnf.x5t#S256).
 */
function callAgentFor(o: CertgateClientOptions): UndiciAgent {
  const ca = o.ca ? [...rootCertificates, o.ca.toString()] : undefined;
  return new UndiciAgent({ connect: { cert: o.cert, key: o.key, ca } });
}
