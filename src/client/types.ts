/** Public types of `certgate/client`. */

/** PEM text or its bytes, as read from a file. */
export type Pem = string | Buffer;

export interface CertgateClientOptions {
  /**
   * Where to log in: certgate's direct mTLS listener (https://gw:8443) or a load balancer that
   * terminates mTLS in front of it. Relative URLs given to fetch() resolve against it.
   */
  url: string;
  /** Client certificate (PEM; intermediates may follow the leaf) and its private key. */
  cert: Pem;
  key: Pem;
  /** CA of the server certificate at `url`; default: the system trust store. */
  ca?: Pem;
  /** Log in as this identity (needed when the certificate fits several). */
  identityId?: string;
  /**
   * Renew when less than this many seconds of the token's life are left (default 60); never later
   * than half-way through its life, so short-lived tokens are renewed in time too.
   */
  renewBeforeSeconds?: number;
  /** Bounded retries of 503/502/504/429 answers and connection errors (exponential backoff, full jitter). */
  retry?: RetryOptions;
  /** Per-request timeout in ms for login and renew (default 10 000). */
  timeoutMs?: number;
  /** Called for each login, renewal, retry and failure (never with the token). */
  onEvent?: (event: ClientEvent) => void;
  /** Injectable for tests: ms since the epoch (default Date.now) and the backoff's sleep. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Injectable for tests: a number in [0, 1) for the jitter (default Math.random). */
  random?: () => number;
}

export interface RetryOptions {
  /** Attempts per login or renewal, the first included (default 5). */
  attempts?: number;
  /** Cap of the first wait in ms (default 200); doubles on each attempt. */
  baseDelayMs?: number;
  /** Cap of any wait in ms (default 5000), a Retry-After too. */
  maxDelayMs?: number;
}

/** The current token and its schedule; times are ms since the epoch by the client's clock. */
export interface TokenInfo {
  accessToken: string;
  /** When certgate will refuse it (approximately: certgate answers in whole seconds). */
  expiresAt: number;
  /** When token() renews it. */
  refreshAt: number;
  /** No renewal goes past this: then the client logs in again. */
  maxExpiresAt: number;
}

export type ClientEvent =
  | { type: 'login'; expiresIn: number; accessTokenMaxTTL: number; identityId?: string }
  | { type: 'renew'; expiresIn: number }
  | { type: 'renew_refused'; status: number; code?: string }
  | { type: 'retry'; operation: 'login' | 'renew'; attempt: number; delayMs: number; reason: string }
  | { type: 'error'; operation: 'login' | 'renew'; message: string; status?: number; code?: string };
