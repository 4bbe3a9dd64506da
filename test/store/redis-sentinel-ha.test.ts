/**
 * A real Sentinel deployment — one master, one replica, three sentinels with quorum 2, fast
 * failover (down-after 1000 ms) — under two gateway processes: see ha-suite.ts.
 */
import { redisCommand, startRedisSentinelSet } from '../helpers/launcher.js';
import { haFleetSuite } from './ha-suite.js';

haFleetSuite('Redis Sentinel (master, replica, 3 sentinels)', async () => {
  const set = await startRedisSentinelSet({ sentinels: 3, quorum: 2, downAfterMs: 1000, failoverTimeoutMs: 3000 });
  return {
    store: { sentinel: { name: set.name, sentinels: set.addresses } },
    masterFor: () => set.master(),
    replicaOf: async (master) => {
      const replica = set.nodes.find((n) => n !== master && n.process.running);
      if (!replica) throw new Error('no replica running');
      return replica;
    },
    // Sentinel itself turns a returning old master into a replica, but only after its next INFO
    // poll of it (every 10 s); REPLICAOF does at once exactly what that poll would do.
    rejoin: async (former) => {
      await former.restart();
      const master = await set.master();
      await redisCommand(former.port, ['REPLICAOF', '127.0.0.1', String(master.port)]);
    },
    stop: () => set.stop(),
  };
});
