import { describe, expect, it } from 'vitest';
import { CertgateClientError } from '../../src/client/errors.js';
import { withRetry } from '../../src/client/retry.js';

/** Fails with each given error in turn, then answers 'ok'; counts attempts and waits. */
function script(errors: Error[], opts = {}) {
  let attempts = 0;
  const sleeps: number[] = [];
  const run = withRetry(
    async () => {
      attempts++;
      const e = errors.shift();
      if (e) throw e;
      return 'ok';
    },
    opts,
    { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5, onRetry: () => {} },
  );
  return { run, sleeps, attempts: () => attempts };
}
const status = (s: number, code?: string, extra: object = {}) => Object.assign(new CertgateClientError(`HTTP ${s}`, s, code), extra);
const errno = (code: string) => new CertgateClientError(code, undefined, code);

describe('withRetry', () => {
  it('retries 502, 503, 504 and connection errors, with doubling jittered waits', async () => {
    const s = script([status(502), status(503, 'store_unavailable'), status(504), errno('ECONNRESET')], { attempts: 5, baseDelayMs: 100 });
    expect(await s.run).toBe('ok');
    expect(s.sleeps).toEqual([50, 100, 200, 400]);
  });

  it('a 429 waits its Retry-After, capped by maxDelayMs', async () => {
    const s = script([status(429, 'rate_limited', { retryAfterMs: 2000 }), status(429, 'rate_limited', { retryAfterMs: 60_000 })], { maxDelayMs: 5000 });
    expect(await s.run).toBe('ok');
    expect(s.sleeps).toEqual([2000, 5000]);
  });

  it('never retries a refusal or a TLS verification failure', async () => {
    for (const e of [status(401, 'token_revoked'), status(400, 'malformed_request'), status(403, 'login_ip_not_allowed'), errno('UNABLE_TO_VERIFY_LEAF_SIGNATURE')]) {
      const s = script([e]);
      await expect(s.run).rejects.toBe(e);
      expect(s.attempts()).toBe(1);
    }
  });

  it('stops after `attempts`, throwing the last error', async () => {
    const last = status(503, 'store_unavailable');
    const s = script([status(503), status(503), last, status(503)], { attempts: 3 });
    await expect(s.run).rejects.toBe(last);
    expect(s.attempts()).toBe(3);
  });
});
