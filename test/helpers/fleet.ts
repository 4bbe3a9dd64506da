/**
 * A fleet as operators run one: N certgate gateways sharing one real redis-server and one keys
 * directory. Gateways start one after another, so the first generates the signing key and the
 * others load it; stop() stops them in start order, then Redis. A start that fails stops what
 * had started, so a broken suite leaves no process behind.
 */
import { join } from 'node:path';
import type { Clock } from '../../src/util/clock.js';
import { startCertgate, type CertgateProcess } from './certgate-process.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { makeTempDir, startRedis, type RedisServer } from './launcher.js';

export interface Fleet<G> {
  redis: RedisServer;
  /** In start order. */
  gateways: G[];
  /** The keys.dir every gateway reads (unless its config names another). */
  keysDir: string;
  stop(): Promise<void>;
}

export interface FleetOptions {
  /** More redis-server arguments, e.g. ['--maxmemory-policy', 'noeviction']. */
  redisArgs?: string[];
}

/** What every member's config gets from the fleet: its Redis, and the shared keys.dir. */
function onFleet(doc: Record<string, unknown>, redis: RedisServer, keysDir: string): Record<string, unknown> {
  return {
    ...doc,
    store: { ...(doc.store as object | undefined), url: redis.url },
    keys: { dir: keysDir, ...(doc.keys as object | undefined) },
  };
}

async function startOnOneRedis<G>(
  count: number,
  opts: FleetOptions,
  start: (index: number, redis: RedisServer, keysDir: string) => Promise<G>,
  stopOne: (gateway: G) => Promise<void>,
): Promise<Fleet<G>> {
  const redis = await startRedis({ args: opts.redisArgs });
  const keysDir = join(makeTempDir('certgate-fleet-'), 'keys');
  const gateways: G[] = [];
  const stop = async () => {
    for (const g of gateways) await stopOne(g);
    await redis.stop();
  };
  try {
    for (let i = 0; i < count; i++) gateways.push(await start(i, redis, keysDir));
  } catch (err) {
    await stop();
    throw err;
  }
  return { redis, gateways, keysDir, stop };
}

export interface ProcessFleetOptions extends FleetOptions {
  /** 1: a lone gateway on a redis-server of its own (with the redisArgs under test). */
  size: number;
  /**
   * Every gateway's configuration, as startCertgate takes it; store.url is the fleet's Redis and
   * keys.dir the fleet's unless given. Each gateway has a directory and config file of its own.
   */
  config: Record<string, unknown>;
}

/** `size` compiled gateway processes (test/helpers/certgate-process.ts) on one redis-server. */
export function startFleet(opts: ProcessFleetOptions): Promise<Fleet<CertgateProcess>> {
  return startOnOneRedis(
    opts.size,
    opts,
    (_i, redis, keysDir) => startCertgate({ config: onFleet(opts.config, redis, keysDir) }),
    (g) => g.stop(),
  );
}

/** One in-process gateway of a fleet: its own additions to the shared document, its own clock. */
export interface InProcessMember {
  doc?: Record<string, unknown>;
  clock?: Clock;
}

export interface InProcessFleetOptions extends FleetOptions {
  /** The config document every member shares (startTestGateway's); store and keys.dir as for startFleet. */
  doc: Record<string, unknown>;
  members: InProcessMember[];
}

/** In-process gateways (startTestGateway) on one redis-server: one per member, in order. */
export function startInProcessFleet(opts: InProcessFleetOptions): Promise<Fleet<TestGateway>> {
  return startOnOneRedis(
    opts.members.length,
    opts,
    (i, redis, keysDir) => {
      const member = opts.members[i]!;
      return startTestGateway(onFleet({ ...opts.doc, ...member.doc }, redis, keysDir), { clock: member.clock });
    },
    (g) => g.close(),
  );
}
