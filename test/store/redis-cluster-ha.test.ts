/**
 * A real Redis Cluster — 3 masters, each with a replica, fast failover (cluster-node-timeout
 * 1500 ms) — under two gateway processes: see ha-suite.ts for what is promised and proved.
 */
import { startRedisCluster } from '../helpers/launcher.js';
import { haFleetSuite } from './ha-suite.js';

haFleetSuite('a 3-master Redis Cluster with replicas', async () => {
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1500 });
  return {
    store: { cluster: cluster.urls },
    masterFor: (key) => cluster.masterOf(key),
    replicaOf: (master) => cluster.replicaOf(master),
    // Its nodes.conf survives: it learns of the failover from the others and replicates the new master.
    rejoin: (former) => former.restart(),
    stop: () => cluster.stop(),
  };
});
