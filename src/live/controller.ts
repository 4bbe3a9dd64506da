import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { audit } from '../audit/events.js';
import { ConfigError, type ConfigProblem } from '../config/env.js';
import { buildIdentity, loadConfigText, type Config, type Identity } from '../config/load.js';
import type { DispatcherPool } from '../downstream/proxy.js';
import type { Metrics } from '../http/metrics.js';
import type { TokenStore } from '../store/types.js';
import { buildLiveState, type LiveHolder, type LiveState } from './state.js';
import type { StoreHealth } from './store-health.js';
import { watchConfigFile, type FileWatch } from './watch-file.js';

/** What asked for a reload: SIGHUP, the file watcher, or a caller (tests, a cluster primary). */
export type ReloadTrigger = 'sighup' | 'file' | 'manual';

export type ReloadResult =
  | { ok: true; changed: boolean; version: number; restartRequired: string[] }
  | { ok: false; problems: { path: string; reason: string }[] };

export interface LiveControllerOptions {
  holder: LiveHolder;
  /** The config file to re-read; undefined for an in-process config (a reload re-applies it). */
  configFile?: string;
  store: TokenStore;
  log: Logger;
  metrics: Metrics;
  dispatchers: DispatcherPool;
  health: StoreHealth;
  /** Apply a reloaded `log.level` to `log` (only when the gateway created the logger itself). */
  applyLogLevel: boolean;
  /** How often the store's identity version is read (default 500 ms). */
  pollMs?: number;
  /** Quiet time after the last file event before the file is read (default 150 ms). */
  debounceMs?: number;
  /**
   * Watch the config file (default true). A cluster worker does not: its primary watches the file
   * once and tells every worker to reload (src/cli/cluster-primary.ts).
   */
  watchFile?: boolean;
}

/**
 * Settings read once at startup: listeners, store connection, key directory, and what the token
 * service was built with. A reload that changes them names them in `restartRequired` and keeps
 * their running values; everything else takes effect at once.
 */
const RESTART_ONLY: [string, (c: Config) => unknown][] = [
  ['server', (c) => c.server],
  ['store', (c) => c.store],
  ['keys.dir', (c) => c.keys.dir],
  ['issuer', (c) => c.issuer],
  ['audience', (c) => c.audience],
  ['clockSkewSeconds', (c) => c.clockSkewSeconds],
];

function keepRestartOnly(next: Config, running: Config): Config {
  return {
    ...next,
    server: running.server,
    store: running.store,
    keys: { ...next.keys, dir: running.keys.dir },
    issuer: running.issuer,
    audience: running.audience,
    clockSkewSeconds: running.clockSkewSeconds,
  };
}

const problemsOf = (e: unknown): { path: string; reason: string }[] =>
  e instanceof ConfigError
    ? e.problems.map((p: ConfigProblem) => ({ path: p.path.length ? p.path.join('.') : '(config)', reason: p.reason }))
    : [{ path: '(config)', reason: (e as Error)?.message ?? String(e) }];

/**
 * Builds new live states and swaps them in: on a reload of the config file (SIGHUP, a change of
 * the file) and on a change of the API identities in the store. Every rebuild runs in one queue,
 * so two changes never interleave, and each one builds a complete state or nothing.
 *
 * API identities reach every gateway by polling the store's version counter (one GET every
 * `pollMs`) rather than pub/sub: the GET works the same on a single Redis, Sentinel and Cluster,
 * needs no second (subscriber) connection, and cannot miss a change during a reconnect — a
 * pub/sub message sent while a gateway is disconnected is lost, so a counter would be needed as
 * the safety net anyway. At 500 ms a change is live everywhere well within the 2 s promise.
 */
export class LiveController {
  private fileConfig: Config;
  private fileText: string | undefined;
  private apiVersion = -1;
  private apiIdentities: Identity[] = [];
  /** Stored document → its validated identity, so an unchanged identity is not parsed again. */
  private parsed = new Map<string, Identity>();
  private queue: Promise<unknown> = Promise.resolve();
  private polling = false;
  private timers: NodeJS.Timeout[] = [];
  private watchers: FileWatch[] = [];

  constructor(private readonly o: LiveControllerOptions) {
    this.fileConfig = o.holder.current.config;
    if (o.configFile) {
      try {
        this.fileText = readFileSync(o.configFile, 'utf8');
      } catch {
        /* read again at the first reload */
      }
    }
  }

  /** Reads the config file again and swaps in the state it describes, or keeps the current one. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    return this.enqueue(() => this.reloadNow(trigger));
  }

  /**
   * Reads the API identities from the store when their version moved (always with `force`) and
   * swaps in a state with them. Resolves false when the store did not answer.
   */
  syncIdentities(force = false): Promise<boolean> {
    return this.enqueue(() => this.syncNow(force));
  }

  /** Starts the store poll and, when there is a file, the file watch. */
  start(): void {
    const poll = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      void this.syncIdentities().finally(() => (this.polling = false));
    }, this.o.pollMs ?? 500);
    poll.unref();
    this.timers.push(poll);
    if (this.o.configFile && this.o.watchFile !== false) this.watchFile(this.o.configFile);
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const w of this.watchers) w.close();
    this.timers = [];
    this.watchers = [];
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<ReloadResult> {
    const file = this.o.configFile;
    const source = file ?? this.fileConfig.source;
    let next: Config;
    let text: string | undefined;
    try {
      if (file) {
        text = readFileSync(file, 'utf8');
        // Editors and tools fire several events per save; only a new text is a new config.
        if (trigger === 'file' && text === this.fileText) return { ok: true, changed: false, version: this.o.holder.current.version, restartRequired: [] };
        this.fileText = text;
        next = loadConfigText(text, file);
      } else {
        next = this.fileConfig;
      }
    } catch (e) {
      return this.refused(source, trigger, problemsOf(e));
    }
    const running = this.fileConfig;
    const restartRequired = RESTART_ONLY.filter(([, get]) => JSON.stringify(get(next)) !== JSON.stringify(get(running))).map(([k]) => k);
    const effective = keepRestartOnly(next, running);
    let state: LiveState;
    try {
      state = this.build(effective, this.apiIdentities);
    } catch (e) {
      return this.refused(source, trigger, problemsOf(e));
    }
    this.fileConfig = effective;
    this.o.holder.swap(state);
    if (this.o.applyLogLevel) this.o.log.level = effective.log.level;
    this.o.metrics.configReloads.inc({ outcome: 'success' });
    audit(this.o.log, 'config_reloaded', { source, trigger, identities: state.identities.length, restartRequired }, restartRequired.length ? `configuration reloaded; needs a restart to apply: ${restartRequired.join(', ')}` : 'configuration reloaded');
    return { ok: true, changed: true, version: state.version, restartRequired };
  }

  private refused(source: string, trigger: ReloadTrigger, problems: { path: string; reason: string }[]): ReloadResult {
    this.o.metrics.configReloads.inc({ outcome: 'failure' });
    audit(this.o.log, 'config_reload_failed', { source, trigger, problems }, `configuration not reloaded (${problems.length} problem${problems.length === 1 ? '' : 's'}); the running configuration stays`);
    return { ok: false, problems };
  }

  private async syncNow(force: boolean): Promise<boolean> {
    let listed: { version: number; identities: Map<string, string> };
    try {
      if (!force && (await this.o.store.identitiesVersion()) === this.apiVersion) {
        this.o.health.answered();
        return true;
      }
      listed = await this.o.store.listIdentities();
      this.o.health.answered();
    } catch (e) {
      this.o.health.failed(e);
      return false;
    }
    const identities = [...listed.identities.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, doc]) => this.parseStored(id, doc))
      .filter((i): i is Identity => i !== undefined);
    const parsed = new Map<string, Identity>();
    for (const [, doc] of listed.identities) {
      const hit = this.parsed.get(doc);
      if (hit) parsed.set(doc, hit);
    }
    this.parsed = parsed;
    try {
      const state = this.build(this.fileConfig, identities);
      this.apiIdentities = identities;
      const moved = this.apiVersion !== listed.version;
      this.apiVersion = listed.version;
      this.o.holder.swap(state);
      if (moved) this.o.log.info({ event: 'api_identities_applied', version: listed.version, identities: identities.length }, 'API identities applied');
    } catch (e) {
      this.o.log.error({ event: 'identities_sync_failed', err: (e as Error).message }, 'API identities not applied; the running state stays');
    }
    return true;
  }

  /**
   * A stored identity was validated when it was PUT; one that no longer validates (written by
   * another version, or its CA now refused) is left out and logged, not allowed to block every
   * later change.
   */
  private parseStored(id: string, doc: string): Identity | undefined {
    const cached = this.parsed.get(doc);
    if (cached) return cached;
    try {
      const identity = buildIdentity(JSON.parse(doc), { baseDir: this.fileConfig.baseDir, files: false });
      if (identity.id !== id) throw new Error(`stored under "${id}" but its id is "${identity.id}"`);
      this.parsed.set(doc, identity);
      return identity;
    } catch (e) {
      this.o.log.error({ event: 'api_identity_invalid', identity: id, problems: problemsOf(e) }, 'a stored API identity does not validate; left out');
      return undefined;
    }
  }

  private build(config: Config, apiIdentities: readonly Identity[]): LiveState {
    const previous = this.o.holder.current;
    const state = buildLiveState({ version: previous.version + 1, config, apiIdentities, dispatchers: this.o.dispatchers, previous });
    const shadowed = apiIdentities.filter((i) => state.sourceOf.get(i.id) === 'file').map((i) => i.id);
    if (shadowed.length > 0) {
      this.o.log.warn({ event: 'api_identity_shadowed', identities: shadowed }, 'API identities with the id of a file identity are ignored; the file identity applies');
    }
    return state;
  }

  /** See watchConfigFile; an unchanged text is ignored by reloadNow. */
  private watchFile(file: string): void {
    this.watchers.push(watchConfigFile(file, () => void this.reload('file'), this.o.log, this.o.debounceMs));
  }
}
