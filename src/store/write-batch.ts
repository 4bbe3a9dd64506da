import type { Socket } from 'node:net';
import { Cluster, type Redis } from 'ioredis';

/**
 * Batches the socket writes of the commands sent directly — not auto-pipelined: the bearer check
 * and the login, see redis-connection.ts — in one turn of the event loop into one writev. The connection is corked
 * at the first such command and uncorked by setImmediate, after the poll phase that issued them:
 * the moment ioredis's auto-pipelining sends its batches, without the Pipeline object it builds
 * per batch (what made the check cheaper sent directly). A write per command was a fifth of the
 * gateway's CPU per forward-auth call (docs/performance.md). Only when the bytes leave changes:
 * the commands, their order and their replies are the same. A Cluster's node connections are left
 * alone (one socket per node, chosen inside ioredis).
 */
export class DirectWriteBatch {
  private holding = false;

  constructor(private readonly client: Redis | Cluster) {}

  /** Sends a command directly (`send`), its write held for the rest of this turn of the event loop. */
  held<T>(send: () => T): T {
    this.hold();
    return send();
  }

  private hold(): void {
    if (this.holding || this.client instanceof Cluster || this.client.status !== 'ready') return;
    const stream = (this.client as unknown as { stream?: Socket }).stream;
    if (!stream || stream.destroyed) return;
    stream.cork();
    this.holding = true;
    setImmediate(() => {
      this.holding = false;
      stream.uncork();
    });
  }
}
