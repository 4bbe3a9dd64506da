import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import { storeUnavailable } from '../errors.js';

/** `store.waitReplicas`: how many replicas must acknowledge a write, and how long WAIT may block. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/**
 * Sends a write followed by Redis `WAIT numreplicas timeout` in ONE pipeline, i.e. on the same
 * connection to the same node: WAIT counts the replicas that acknowledged everything this
 * connection wrote before it, so it must follow the write on the connection that sent it. In a
 * cluster, an ioredis pipeline goes to the node owning the slot of its first key and WAIT has no
 * key, so both land on the write's master (a plain `cluster.call('WAIT')` would go to a random
 * node and count nothing useful). If the write is redirected (MOVED/ASK) the pipeline answers
 * with that error and the call is refused: nothing ran.
 *
 * Residual: ioredis sends a script's full body (EVAL) on the first use per connection; only if the
 * server's script cache is flushed while that connection lives does EVALSHA answer NOSCRIPT, and
 * ioredis then re-sends the script outside the pipeline, after the WAIT.
 *
 * Returns the write's reply; throws 503 store_unavailable when `mustAck(reply)` and fewer replicas
 * acknowledged (the write happened on the master but may be lost in a failover: fail closed).
 */
export async function writeAndWait<T>(
  client: Redis | Cluster,
  wait: ReplicaWait,
  write: (p: ChainableCommander) => unknown,
  mustAck: (reply: T) => boolean = () => true,
): Promise<T> {
  const p = client.pipeline();
  write(p);
  p.call('WAIT', String(wait.replicas), String(wait.timeoutMs));
  const results = await p.exec();
  if (!results || results.length !== 2) throw new Error('token store: pipeline returned no results');
  const [[writeErr, reply], [waitErr, acked]] = results as [[Error | null, T], [Error | null, unknown]];
  if (writeErr) {
    // A redirected pipeline is not followed (the WAIT answered, so ioredis sees no retriable
    // pipeline): refuse this call, and let the next one find the slot's new owner.
    if (client instanceof Cluster && /^(MOVED|ASK|CLUSTERDOWN) /.test(writeErr.message)) client.refreshSlotsCache();
    throw writeErr;
  }
  if (waitErr) throw waitErr;
  if (mustAck(reply) && Number(acked) < wait.replicas) {
    throw storeUnavailable(
      `token store: the write was acknowledged by ${Number(acked)} of ${wait.replicas} replicas within ${wait.timeoutMs} ms (store.waitReplicas): refused, it may be lost in a failover`,
    );
  }
  return reply;
}
