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
  /** stdout+stderr of every run so far (last 256 KiB). */
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

const OUTPUT_LIMIT = 256 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  installCleanup();
  let out = '';
  const append = (chunk: Buffer | string) => {
    out += chunk.toString();
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
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

/** A redis-server in sentinel mode on 127.0.0.1, watching the master `masterName` at masterPort. */
export async function startRedisSentinel(masterName: string, masterPort: number): Promise<RedisSentinel> {
  const bin = ensureBinary('redis-server', 'redis-server');
  const port = await freePort();
  const dir = makeTempDir('certgate-sentinel-');
  // Sentinel rewrites its config file at runtime, so it must be a writable file of its own.
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`, ''].join('\n'));
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
