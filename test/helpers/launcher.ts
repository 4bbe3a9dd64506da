/**
 * The one launcher for the external services test suites need (redis-server, nginx, haproxy,
 * caddy, apache, the certgate binary itself): find or install the binary, start it on loopback,
 * wait until it really answers, and always clean it up — even when a suite forgets to.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.js';

// ---------------------------------------------------------------------------------------------
// Cleanup: every child and temp dir is registered, and killed / removed when this process exits.

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  // Children run in their own process group so that a master's workers (nginx, apache) die too.
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const cleanup = () => {
    for (const c of liveChildren) killGroup(c, 'SIGKILL');
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Clean up, then let the signal do what it would have done without us.
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig);
    });
  }
}

/** A temp dir removed at process exit (or earlier by the caller). */
export function makeTempDir(prefix = 'certgate-test-'): string {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Binaries

const SBIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an executable on PATH (plus the sbin dirs a non-root PATH lacks), or null. */
export function findBinary(bin: string): string | null {
  if (bin.includes('/')) return isExecutable(bin) ? bin : null;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const p = join(dir, bin);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let aptUpdated = false;

function apt(args: string[]): boolean {
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

/**
 * Returns the binary's absolute path. When it is missing: as root with apt-get, installs
 * `debPackage` (after one `apt-get update` if the first attempt fails); otherwise throws an Error
 * naming the package. Never returns without the binary — suites must not skip silently.
 */
export function ensureBinary(bin: string, debPackage: string): string {
  const found = findBinary(bin);
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !findBinary('apt-get')) {
    throw new Error(`${bin} is not installed; install the Debian package "${debPackage}" (apt-get install ${debPackage})`);
  }
  let ok = apt(['install', '-y', '--no-install-recommends', debPackage]);
  if (!ok && !aptUpdated) {
    aptUpdated = true;
    ok = apt(['update']) && apt(['install', '-y', '--no-install-recommends', debPackage]);
  }
  const installed = findBinary(bin);
  if (!ok || !installed) {
    throw new Error(`${bin} is missing and "apt-get install ${debPackage}" did not provide it; install it by hand`);
  }
  return installed;
}

// ---------------------------------------------------------------------------------------------
// Generic managed process

export interface StartProcessOptions {
  /** Shown in errors, e.g. "redis-server :6390". */
  name: string;
  cmd: string;
  args?: string[];
  /** Merged over process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Polled until it resolves true (a throw counts as false). */
  readyWhen: () => Promise<boolean>;
  /** Default 20 s. */
  startTimeoutMs?: number;
}

export interface ManagedProcess {
  readonly name: string;
  /** Pid of the current run (undefined when not running). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** stdout+stderr of every run so far (the last 8 MiB, whole lines). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** SIGKILL — a crash; resolves when it has exited. */
  kill(): Promise<void>;
  /** Sends a signal to the process group (e.g. SIGSTOP / SIGCONT to simulate a hang). */
  signal(sig: NodeJS.Signals): void;
  /** Stops it if running, starts the same command again and waits until ready. */
  restart(): Promise<void>;
}

/** Enough for every audit line of the busiest fleet test (its assertions read early key events). */
const OUTPUT_LIMIT = 8 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  installCleanup();
  let out = '';
  const append = (chunk: Buffer | string) => {
    out += chunk.toString();
    // Cut at a line boundary: a partial first line would not parse as a log line.
    if (out.length > OUTPUT_LIMIT) out = out.slice(out.indexOf('\n', out.length - OUTPUT_LIMIT) + 1);
  };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const spawnOnce = () => {
    const c = spawn(opts.cmd, opts.args ?? [], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: see killGroup
    });
    c.stdout?.on('data', append);
    c.stderr?.on('data', append);
    c.on('error', (e) => append(`\n[launcher] spawn error: ${e.message}\n`));
    // A forgotten service must not keep the test worker alive; the exit hook kills it.
    c.unref();
    (c.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (c.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    liveChildren.add(c);
    exited = new Promise((resolve) =>
      c.once('close', (code, sig) => {
        liveChildren.delete(c);
        append(`\n[launcher] ${opts.name} exited (code ${code}, signal ${sig})\n`);
        resolve();
      }),
    );
    child = c;
  };
  const isRunning = () => !!child && child.exitCode === null && child.signalCode === null && liveChildren.has(child);

  const terminate = async (sig: NodeJS.Signals) => {
    if (!child || !liveChildren.has(child)) return;
    const c = child;
    killGroup(c, sig);
    if (sig !== 'SIGKILL') {
      const t = setTimeout(() => killGroup(c, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    } else {
      await exited;
    }
  };

  const waitReady = async () => {
    const timeout = opts.startTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (!isRunning()) break;
      if (await opts.readyWhen().catch(() => false)) return;
      await sleep(50);
    }
    const why = isRunning() ? `did not become ready within ${timeout} ms` : 'exited during startup';
    await terminate('SIGKILL');
    throw new Error(`${opts.name} ${why}: ${opts.cmd} ${(opts.args ?? []).join(' ')}\n--- output ---\n${out}`);
  };

  spawnOnce();
  await waitReady();

  return {
    name: opts.name,
    get pid() {
      return isRunning() ? child?.pid : undefined;
    },
    get running() {
      return isRunning();
    },
    output: () => out,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    signal: (sig) => {
      if (child) killGroup(child, sig);
    },
    restart: async () => {
      await terminate('SIGTERM');
      append(`\n[launcher] restarting ${opts.name}\n`);
      spawnOnce();
      await waitReady();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// redis-server

/** True when a Redis server answers PING with PONG on host:port within timeoutMs. */
export function redisPing(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const sock = connect({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      // -LOADING while it reads its dataset counts as not ready.
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

export interface StartRedisOptions {
  /** Default: a free loopback port. */
  port?: number;
  /** Extra redis-server arguments, e.g. ['--cluster-enabled', 'yes']. */
  args?: string[];
}

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
  /** SIGKILL: simulates a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
}

/** An ephemeral redis-server on 127.0.0.1: no persistence, its own temp dir. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = ensureBinary('redis-server', 'redis-server');
  // A port from freePort() can be taken by someone else before redis binds it: try another.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const dir = makeTempDir('certgate-redis-');
    try {
      const proc = await startProcess({
        name: `redis-server :${port}`,
        cmd: bin,
        args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(opts.args ?? [])],
        readyWhen: () => redisPing(port),
      });
      return {
        host: '127.0.0.1',
        port,
        url: `redis://127.0.0.1:${port}`,
        process: proc,
        stop: async () => {
          await proc.stop();
          rmSync(dir, { recursive: true, force: true });
          tempDirs.delete(dir);
        },
        kill: () => proc.kill(),
        restart: () => proc.restart(),
      };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      const portTaken = /address already in use/i.test(String(err));
      if (opts.port !== undefined || !portTaken || attempt >= 3) throw err;
    }
  }
}

export interface RedisSentinel {
  readonly port: number;
  /** host:port, as RedisTokenStore's `sentinel.sentinels` takes it. */
  readonly address: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  /** Sentinels that must agree the master is down (default 1). */
  quorum?: number;
  /** `sentinel down-after-milliseconds` (Redis default 30 000). */
  downAfterMs?: number;
  /** `sentinel failover-timeout` (Redis default 180 000). */
  failoverTimeoutMs?: number;
}

/** A redis-server in sentinel mode on 127.0.0.1, watching the master `masterName` at masterPort. */
export async function startRedisSentinel(masterName: string, masterPort: number, opts: SentinelOptions = {}): Promise<RedisSentinel> {
  const bin = ensureBinary('redis-server', 'redis-server');
  const port = await freePort();
  const dir = makeTempDir('certgate-sentinel-');
  // Sentinel rewrites its config file at runtime, so it must be a writable file of its own.
  const conf = join(dir, 'sentinel.conf');
  const lines = [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${opts.quorum ?? 1}`];
  if (opts.downAfterMs !== undefined) lines.push(`sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs}`);
  if (opts.failoverTimeoutMs !== undefined) lines.push(`sentinel failover-timeout ${masterName} ${opts.failoverTimeoutMs}`);
  writeFileSync(conf, [...lines, ''].join('\n'));
  const proc = await startProcess({
    name: `redis-sentinel :${port}`,
    cmd: bin,
    args: [conf, '--sentinel'],
    readyWhen: () => redisPing(port),
  });
  return {
    port,
    address: `127.0.0.1:${port}`,
    process: proc,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Highly available Redis: Sentinel (master + replica + sentinels) and Cluster (masters + replicas)

/** Sends one command to a Redis at port on a fresh connection and returns its raw RESP reply. */
export function redisCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const sock = connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis :${port} ${args[0]}: no complete reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | null, reply?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    sock.once('error', (e) => done(e));
    sock.once('connect', () => sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    sock.on('data', (d) => {
      buf += d.toString();
      const complete = respComplete(buf);
      if (complete) done(buf.startsWith('-') ? new Error(`redis :${port} ${args[0]}: ${buf.trim()}`) : null, buf);
    });
  });
}

/** True when buf holds one whole RESP2 reply (enough for the simple, bulk and flat-array replies used here). */
function respComplete(buf: string): boolean {
  const pos = { i: 0 };
  const one = (): boolean => {
    const eol = buf.indexOf('\r\n', pos.i);
    if (eol < 0) return false;
    const type = buf[pos.i];
    const head = buf.slice(pos.i + 1, eol);
    pos.i = eol + 2;
    if (type === '$') {
      const len = Number(head);
      if (len < 0) return true;
      if (Buffer.byteLength(buf.slice(pos.i)) < len + 2) return false;
      pos.i += len + 2; // ASCII-only replies here: bytes = chars
      return true;
    }
    if (type === '*') {
      for (let n = Number(head); n > 0; n--) if (!one()) return false;
      return true;
    }
    return true;
  };
  return one();
}

/** The text of a bulk-string reply (INFO, CLUSTER NODES …). */
const bulk = (reply: string) => reply.slice(reply.indexOf('\r\n') + 2).replace(/\r\n$/, '');

/** Polls `check` every 50 ms until it returns true; throws `what` after timeoutMs. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** `role:master` / `role:slave` and `master_link_status` from INFO replication. */
export async function replicationInfo(port: number): Promise<Record<string, string>> {
  const text = bulk(await redisCommand(port, ['INFO', 'replication']));
  return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string]));
}

/** A (re)joining replica's full sync starts at once, not after the default 5 s diskless-sync delay. */
const FAST_RESYNC = ['--repl-diskless-sync-delay', '0'];

export interface SentinelSetOptions extends SentinelOptions {
  /** Default certgate-master. */
  name?: string;
  /** Default 3. */
  sentinels?: number;
}

export interface RedisSentinelSet {
  readonly name: string;
  /** The nodes as started: [0] began as master, [1] as its replica. */
  readonly nodes: RedisServer[];
  readonly sentinels: RedisSentinel[];
  /** host:port of every sentinel, as `store.sentinel.sentinels` takes them. */
  readonly addresses: string[];
  /** The node the first answering sentinel names as master now. */
  master(): Promise<RedisServer>;
  /** Stops every sentinel and node. */
  stop(): Promise<void>;
}

/**
 * One master, one replica (in sync before this returns) and `sentinels` sentinels (default 3,
 * quorum 2) that all see the master, the replica and each other — a real Sentinel deployment.
 */
export async function startRedisSentinelSet(opts: SentinelSetOptions = {}): Promise<RedisSentinelSet> {
  const name = opts.name ?? 'certgate-master';
  const nodes: RedisServer[] = [];
  const sentinels: RedisSentinel[] = [];
  const stop = async () => {
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    nodes.push(await startRedis({ args: FAST_RESYNC }));
    const master = nodes[0]!;
    nodes.push(await startRedis({ args: [...FAST_RESYNC, '--replicaof', '127.0.0.1', String(master.port)] }));
    await waitUntil('the replica is in sync', async () => (await replicationInfo(nodes[1]!.port)).master_link_status === 'up');
    const count = opts.sentinels ?? 3;
    const sOpts = { quorum: 2, ...opts };
    for (let i = 0; i < count; i++) sentinels.push(await startRedisSentinel(name, master.port, sOpts));
    // Ready = every sentinel knows the replica and the other sentinels (found through the master's hello channel).
    await waitUntil('every sentinel sees the replica and the others', async () => {
      for (const s of sentinels) {
        const reply = await redisCommand(s.port, ['SENTINEL', 'MASTER', name]);
        const fields = reply.split('\r\n').filter((l) => !/^[*$]/.test(l));
        const get = (k: string) => fields[fields.indexOf(k) + 1];
        if (get('num-slaves') !== '1' || get('num-other-sentinels') !== String(count - 1)) return false;
      }
      return true;
    });
    return {
      name,
      nodes,
      sentinels,
      addresses: sentinels.map((s) => s.address),
      master: async () => {
        for (const s of sentinels) {
          if (!s.process.running) continue;
          const reply = await redisCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]).catch(() => '');
          const port = Number(reply.split('\r\n')[4]);
          const node = nodes.find((n) => n.port === port);
          if (node) return node;
        }
        throw new Error('no sentinel names a master');
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ClusterOptions {
  /** Default 3. */
  masters?: number;
  /** Replicas per master (default 1). */
  replicasPerMaster?: number;
  /** cluster-node-timeout: how long a silent master takes to be failed over (default 1500 ms). */
  nodeTimeoutMs?: number;
}

export interface RedisClusterSet {
  /** Every node; masters() / replicaOf() tell the current roles. */
  readonly nodes: RedisServer[];
  /** redis://127.0.0.1:PORT of every node, as `store.cluster` takes them. */
  readonly urls: string[];
  /** The node serving `key`'s slot as master now (asked of a running node). */
  masterOf(key: string): Promise<RedisServer>;
  /** The node replicating `master` now. */
  replicaOf(master: RedisServer): Promise<RedisServer>;
  stop(): Promise<void>;
}

interface ClusterNodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: string[];
}

async function clusterNodes(port: number): Promise<ClusterNodeLine[]> {
  return bulk(await redisCommand(port, ['CLUSTER', 'NODES']))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, addr, flags, masterId, , , , , ...slots] = line.split(' ');
      return { id: id!, port: Number(addr!.split(/[:@]/)[1]), flags: flags!.split(','), masterId: masterId!, slots };
    });
}

/**
 * A real Redis Cluster on loopback: `masters` masters sharing the 16384 slots evenly, each with
 * `replicasPerMaster` replicas in sync, every node knowing every other. Built by hand (MEET,
 * ADDSLOTSRANGE, REPLICATE) so no redis-cli is needed. Each node's cluster bus gets a free port of
 * its own (the default port+10000 may not exist for high ports).
 */
export async function startRedisCluster(opts: ClusterOptions = {}): Promise<RedisClusterSet> {
  const masters = opts.masters ?? 3;
  const perMaster = opts.replicasPerMaster ?? 1;
  const nodes: RedisServer[] = [];
  const busPorts: number[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < masters * (1 + perMaster); i++) {
      const busPort = await freePort();
      busPorts.push(busPort);
      nodes.push(
        await startRedis({
          args: [
            '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
            '--cluster-port', String(busPort), '--cluster-announce-ip', '127.0.0.1',
            '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1500),
            // A replica that lost its master a while ago still takes over (tests kill at any time).
            '--cluster-replica-validity-factor', '0',
            ...FAST_RESYNC,
          ],
        }),
      );
    }
    const ids = await Promise.all(nodes.map(async (n) => bulk(await redisCommand(n.port, ['CLUSTER', 'MYID']))));
    const per = Math.ceil(16384 / masters);
    for (let m = 0; m < masters; m++) {
      await redisCommand(nodes[m]!.port, ['CLUSTER', 'ADDSLOTSRANGE', String(m * per), String(Math.min(16383, (m + 1) * per - 1))]);
    }
    for (const n of nodes.slice(1)) await redisCommand(n.port, ['CLUSTER', 'MEET', '127.0.0.1', String(nodes[0]!.port), String(busPorts[0])]);
    await waitUntil('every node knows every other', async () => {
      for (const n of nodes) if ((await clusterNodes(n.port)).length !== nodes.length) return false;
      return true;
    });
    for (let r = 0; r < masters * perMaster; r++) {
      const replica = nodes[masters + r]!;
      await redisCommand(replica.port, ['CLUSTER', 'REPLICATE', ids[r % masters]!]);
    }
    await waitUntil('the cluster is ok and every replica in sync', async () => {
      for (const n of nodes) {
        if (!bulk(await redisCommand(n.port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok')) return false;
        const lines = await clusterNodes(n.port);
        if (lines.filter((l) => l.flags.includes('slave')).length !== masters * perMaster) return false;
      }
      for (const n of nodes.slice(masters)) if ((await replicationInfo(n.port)).master_link_status !== 'up') return false;
      return true;
    });
    const anyRunning = () => {
      const n = nodes.find((x) => x.process.running);
      if (!n) throw new Error('no cluster node is running');
      return n;
    };
    const byPort = (port: number) => {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no cluster node on port ${port}`);
      return n;
    };
    return {
      nodes,
      urls: nodes.map((n) => n.url),
      masterOf: async (key) => {
        const probe = anyRunning().port;
        const slot = Number((await redisCommand(probe, ['CLUSTER', 'KEYSLOT', key])).slice(1));
        const lines = await clusterNodes(probe);
        const owner = lines.find(
          (l) => l.flags.includes('master') && !l.flags.includes('fail') &&
            l.slots.some((r) => {
              const [a, b = a] = r.split('-').map(Number);
              return slot >= a! && slot <= b!;
            }),
        );
        if (!owner) throw new Error(`no master serves slot ${slot}`);
        return byPort(owner.port);
      },
      replicaOf: async (master) => {
        const lines = await clusterNodes(anyRunning().port);
        const id = lines.find((l) => l.port === master.port)?.id;
        const replica = lines.find((l) => l.flags.includes('slave') && l.masterId === id);
        if (!replica) throw new Error(`no replica of :${master.port}`);
        return byPort(replica.port);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
