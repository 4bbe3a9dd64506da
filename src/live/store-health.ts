import type { Logger } from 'pino';
import { audit } from '../audit/events.js';
import { isCertgateError } from '../errors.js';
import type { Clock } from '../util/clock.js';

/**
 * Turns the store's answers into two audit events, on transitions only: `store_unavailable` when
 * it stops answering, `store_recovered` when it answers again. Fed by work the gateway does anyway
 * (the identity poll every ~500 ms, /readyz, the client's connection errors), never by the hot
 * path, so a request costs nothing extra.
 */
export class StoreHealth {
  private downSince: number | undefined;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /** A connection error or a store_unavailable refusal; other refusals (store_misconfigured) are not outages. */
  failed(err: unknown): void {
    if (isCertgateError(err) && err.code !== 'store_unavailable') return;
    if (this.downSince !== undefined) return;
    this.downSince = this.clock.now();
    audit(this.log, 'store_unavailable', { err: (err as Error)?.message ?? String(err) }, 'token store unreachable: logins and calls answer 503');
  }

  answered(): void {
    if (this.downSince === undefined) return;
    const downForMs = this.clock.now() - this.downSince;
    this.downSince = undefined;
    audit(this.log, 'store_recovered', { downForMs }, 'token store answers again');
  }
}
