import { isTransient } from './errors.js';
import type { RetryOptions } from './types.js';

export interface RetryDeps {
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  onRetry: (attempt: number, delayMs: number, error: unknown) => void;
}

/**
 * Runs `op` until it succeeds, fails for good, or `attempts` are used up. The wait before attempt
 * n+1 is random in [0, min(maxDelay, base * 2^(n-1))) ("full jitter": a fleet restarted together
 * does not retry in lockstep); a Retry-After answer waits that long instead, capped by maxDelay.
 */
export async function withRetry<T>(op: () => Promise<T>, opts: RetryOptions, deps: RetryDeps): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      if (attempt >= attempts || !isTransient(e)) throw e;
      const retryAfter = (e as { retryAfterMs?: number }).retryAfterMs;
      const delay = retryAfter !== undefined ? Math.min(max, retryAfter) : Math.floor(deps.random() * Math.min(max, base * 2 ** (attempt - 1)));
      deps.onRetry(attempt, delay, e);
      await deps.sleep(delay);
    }
  }
}
