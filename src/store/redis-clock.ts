/**
 * The gateway's estimate of Redis's clock, so that scripts can be told "change nothing if you run
 * after Redis time D" (lua/deadline.lua).
 *
 * Why: a call whose command times out is answered 503, but the command is already on its way (or
 * queued behind a stalled Redis) and its script would still run later — a use spent on a call the
 * caller was told had failed. With D chosen so that it falls before the gateway gives up, a script
 * that runs late refuses instead.
 *
 * The estimate: TIME is read at some instant between sending it (local t0) and its reply (t1), so
 * Redis − local lies in [r − t1, r − t0]. We keep the LOWER bound `r − t1` from the sample with the
 * shortest round trip: a deadline computed from it maps to a local instant no later than intended,
 * whatever the true offset in that range. Local time is monotonic (performance.now), so a step of
 * the gateway's wall clock changes nothing. With several masters (cluster) the smallest lower bound
 * over all of them is kept, which is conservative for every shard.
 *
 * Residual window (why "exactly" has a fine print): D is `margin` before the gateway's command
 * timeout. A script that runs just before D still has to get its reply back within `margin`; if the
 * reply is delayed longer than that (the gateway's event loop blocked, the network stalling right
 * after the script ran), the caller gets 503 and the use is spent. Also outside the bound: a step of
 * the Redis host's clock between two syncs (re-synced every 10 s and at every reconnect; a step
 * forward only makes scripts refuse — 503, fail closed — until then), drift between syncs
 * (ppm: microseconds), and a cluster/sentinel failover to a primary whose clock differs from the
 * one measured, until the next sync.
 */
export class RedisClock {
  /** Lower bound of (Redis ms − local monotonic ms); undefined until the first sync. */
  private offsetMs: number | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get synced(): boolean {
    return this.offsetMs !== undefined;
  }

  /**
   * Takes `samples` TIME readings from each of `nodes` (sequentially) and keeps the lower bound
   * of the best one per node, then the smallest over nodes. A node that fails is skipped; when
   * none answers, the previous estimate stays.
   */
  async sync(nodes: Array<() => Promise<ReadonlyArray<string | number>>>, samples = 3): Promise<void> {
    let lowest: number | undefined;
    for (const time of nodes) {
      let best: { rtt: number; low: number } | undefined;
      for (let i = 0; i < samples; i++) {
        try {
          const t0 = this.now();
          const [sec, usec] = await time();
          const t1 = this.now();
          const redisMs = Number(sec) * 1000 + Number(usec) / 1000;
          if (!Number.isFinite(redisMs)) continue;
          if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, low: redisMs - t1 };
        } catch {
          break; // outage: keep what we had
        }
      }
      if (best && (lowest === undefined || best.low < lowest)) lowest = best.low;
    }
    if (lowest !== undefined) this.offsetMs = lowest;
  }

  /**
   * The Redis-time deadline (whole ms, as the script argument) for a command sent now that the
   * gateway gives up on after `budgetMs`; '0' (no deadline) before the first sync.
   */
  deadline(budgetMs: number): string {
    if (this.offsetMs === undefined) return '0';
    return String(Math.floor(this.now() + budgetMs + this.offsetMs));
  }
}
