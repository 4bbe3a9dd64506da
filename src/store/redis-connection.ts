import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** Where the Redis store connects: exactly one of url, cluster, sentinel. */
export interface RedisTarget {
  /** redis://[user:pass@]host:port[/db] or rediss:// (TLS). */
  url?: string;
  /** Cluster seed nodes, each redis:// or rediss:// (host:port also accepted). */
  cluster?: string[];
  /** Sentinel-managed master: its name and the sentinels (host:port or redis:// URLs). */
  sentinel?: { name: string; sentinels: string[] };
}

export interface ConnectionTimeouts {
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * Reconnects forever in the background (never gives up), so service resumes by itself when Redis
 * is back; meanwhile the fail-fast options below make every command reject at once.
 */
const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, 1000);

/**
 * Fail fast, never hang: no offline queue (a command while disconnected rejects at once), no
 * retry or resend of in-flight commands (a re-sent consume could take a second use), and a
 * timeout on every command and connect.
 *
 * Auto-pipelining: the commands issued in one event-loop iteration go out as one write and their
 * replies come back in one read. Each script stays one atomic EVALSHA, so it changes no outcome;
 * it only batches the I/O of concurrent requests. The hottest scripts — the bearer check
 * (`certgateCheck`, one per forward-auth call) and the login (`certgateLogin`) — are sent
 * directly instead: ioredis builds a Pipeline object per batch, which at a gateway's batch sizes
 * costs more CPU than it saves, and their writes are batched by corking the socket for the same
 * turn of the event loop (src/store/write-batch.ts). On a single server they do not go through
 * these custom commands at all (sendHotScript in src/store/redis-scripts.ts); on a Cluster they
 * do, and this list keeps them out of its auto-pipelining. A renamed script only loses this
 * tuning, never correctness.
 */
function failFast(t: ConnectionTimeouts) {
  return {
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: ['certgateCheck', 'certgateLogin'],
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: t.commandTimeoutMs,
    connectTimeout: t.connectTimeoutMs,
  } satisfies RedisOptions;
}

export function connectRedis(target: RedisTarget, t: ConnectionTimeouts): Redis | Cluster {
  const given = [target.url, target.cluster, target.sentinel].filter((x) => x !== undefined).length;
  if (given !== 1) throw new Error('redis store: give exactly one of url, cluster, sentinel');

  if (target.url !== undefined) {
    if (!/^rediss?:\/\//i.test(target.url)) throw new Error(`redis store: not a redis:// or rediss:// URL: ${redact(target.url)}`);
    return new Redis(target.url, { ...failFast(t), retryStrategy: reconnectDelayMs });
  }

  if (target.cluster !== undefined) {
    const nodes = target.cluster.map(parseNode);
    const first = nodes[0];
    if (!first) throw new Error('redis store: cluster needs at least one node');
    const { enableOfflineQueue, enableAutoPipelining, autoPipeliningIgnoredCommands, ...perNode } = failFast(t);
    return new Cluster(
      nodes.map(({ host, port }) => ({ host, port })),
      {
        enableOfflineQueue,
        enableAutoPipelining,
        autoPipeliningIgnoredCommands,
        clusterRetryStrategy: reconnectDelayMs,
        slotsRefreshTimeout: t.connectTimeoutMs,
        redisOptions: { ...perNode, ...first.auth },
      },
    );
  }

  const sentinel = target.sentinel!;
  const sentinels = sentinel.sentinels.map((s) => parseNode(s, 26379));
  return new Redis({
    ...failFast(t),
    retryStrategy: reconnectDelayMs,
    name: sentinel.name,
    sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    sentinelRetryStrategy: reconnectDelayMs,
    sentinelCommandTimeout: t.commandTimeoutMs,
    ...(sentinels[0]?.auth.password !== undefined ? { sentinelPassword: sentinels[0].auth.password } : {}),
  });
}

interface ParsedNode {
  host: string;
  port: number;
  auth: { username?: string; password?: string; tls?: object };
}

function parseNode(raw: string, defaultPort = 6379): ParsedNode {
  const u = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `redis://${raw}`);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis store: not a redis node address: ${redact(raw)}`);
  const auth: ParsedNode['auth'] = {};
  if (u.username) auth.username = decodeURIComponent(u.username);
  if (u.password) auth.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') auth.tls = {};
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : defaultPort, auth };
}

/** Connection strings may carry a password; error messages must not. */
export function redact(url: string): string {
  // Everything up to the LAST '@' of the authority is credentials (a password may contain '@').
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}
