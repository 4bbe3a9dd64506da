import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JWK } from 'jose';
import { pino, type Logger } from 'pino';
import { audit } from '../audit/events.js';
import { systemClock, type Clock } from '../util/clock.js';
import { isKeyFileName, parseKeyFile, writeNewKey, type KeyAlgorithm, type SigningKey } from './key-file.js';
import { isPublished, keyStates, type KeyStatus, type KeyView } from './key-lifecycle.js';

export type { SigningKey } from './key-file.js';
export type { KeyState, KeyStatus } from './key-lifecycle.js';

/** How often every gateway re-reads keys.dir; the contract promises a new key is published within 10 s. */
export const KEY_REFRESH_MS = 5_000;
/** An unknown kid re-reads keys.dir at most this often, so forged kids cannot turn into disk reads. */
const UNKNOWN_KID_REFRESH_MS = 1_000;

export interface KeyRingOptions {
  dir: string;
  clock?: Clock;
  log?: Logger;
  /**
   * The longest a token signed now can stay valid, in seconds (see keyStates). Asked on every
   * re-read, so a reload that lengthens a TTL lengthens the retirement of every key.
   */
  tokenLifetimeSec?: () => number;
  /** Generate a first key (active at once) when keys.dir holds none: what a gateway does at start. */
  create?: { algorithm: KeyAlgorithm };
  /** Re-read period; 0 = never by timer (the CLI, unit tests). */
  refreshMs?: number;
  /** Minimum spacing of re-reads caused by unknown kids. */
  unknownKidRefreshMs?: number;
}

/** What one file in keys.dir held the last time it was read. */
interface FileEntry {
  /** Identity of the file's content (inode, size, mtime): unchanged files are not parsed again. */
  stamp: string;
  key?: SigningKey;
  problem?: string;
}

/**
 * The signing keys in `keys.dir` (`<kid>.jwk.json`, mode 0600) and their lifecycle (see
 * key-lifecycle.ts). keys.dir is the only thing gateways share about keys: it is re-read every
 * KEY_REFRESH_MS and whenever a token names a kid this gateway does not know (another gateway may
 * have read a new key first), so a token is never refused for its kid while its key is published.
 *
 * A file that cannot be read or parsed is logged, naming it, and skipped. A key already loaded
 * from a file that turns unreadable or corrupt stays in the ring: a half-written copy or a
 * flaky volume must not unpublish a key whose tokens are still valid; nor does a read that finds
 * no usable key at all (a remount). Only removing the file of a key while another usable key
 * remains withdraws it before its time (the remedy for a leaked key).
 */
export class KeyRing {
  private files = new Map<string, FileEntry>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private lifetimeSec = 0;
  private view: KeyView = { statuses: [], active: undefined, changesAt: Infinity };
  private viewAt = -Infinity;
  private observed = new Map<string, KeyStatus['state']>();
  private baselined = false;
  private readonly duplicatesLogged = new Set<string>();
  private reading: Promise<void> = Promise.resolve();
  private unknownKidRead?: Promise<void>;
  private lastUnknownKidRead = -Infinity;
  private timer?: NodeJS.Timeout;
  private readCount = 0;

  private constructor(private readonly o: KeyRingOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? pino({ level: 'silent' });
  }

  /** Loads every key in `dir`; with `create`, generates a first one when there is none. */
  static async open(o: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(o);
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    const empty = !readdirSync(o.dir).some(isKeyFileName);
    if (o.create && empty) {
      // The very first key: no gateway or downstream has a JWKS to pre-publish to, so it is active at once.
      const now = ring.clock.now();
      await writeNewKey(o.dir, o.create.algorithm, now, now);
    }
    // An empty directory is a baseline of nothing: the first key is audited as published and activated.
    if (empty) ring.baselined = true;
    await ring.refresh();
    if (o.create && !ring.view.active) {
      const problems = [...ring.files].map(([f, e]) => `${f}: ${e.problem}`).join('; ');
      throw new Error(`keys.dir ${o.dir} holds key files but none is usable (${problems})`);
    }
    if (o.refreshMs ?? 0) {
      // A tick while the previous timed read still runs (a slow volume) is skipped, not queued.
      let pending = false;
      ring.timer = setInterval(() => {
        if (pending) return;
        pending = true;
        void ring.refresh().finally(() => (pending = false));
      }, o.refreshMs);
      ring.timer.unref();
    }
    return ring;
  }

  /** The key that signs now. */
  get active(): SigningKey {
    const active = this.current().active;
    if (!active) throw new Error(`no signing key in ${this.o.dir}`);
    return active;
  }

  /** A published key (next, active or retiring) by kid, as of the last read of keys.dir. */
  byKid(kid: string): SigningKey | undefined {
    const s = this.current().statuses.find((st) => st.key.kid === kid);
    return s && isPublished(s) ? s.key : undefined;
  }

  /**
   * byKid, re-reading keys.dir first when the kid is not known at all: another gateway may already
   * sign with a key this one has not read yet. Re-reads for unknown kids are shared and spaced.
   */
  async resolve(kid: string): Promise<SigningKey | undefined> {
    if (this.current().statuses.some((s) => s.key.kid === kid)) return this.byKid(kid);
    await this.readForUnknownKid();
    return this.byKid(kid);
  }

  /** The public keys of every published key, the active one first. */
  jwks(): { keys: JWK[] } {
    const published = this.current().statuses.filter(isPublished);
    published.sort((a, b) => Number(b.state === 'active') - Number(a.state === 'active'));
    return { keys: published.map((s) => s.key.publicJwk) };
  }

  /** Every key with its state and dates, oldest activation first (`certgate keys list`). */
  list(): KeyStatus[] {
    return this.current().statuses;
  }

  /** Files in keys.dir that are not usable keys, with the reason. */
  problems(): { file: string; problem: string }[] {
    return [...this.files].filter(([, e]) => e.problem).map(([file, e]) => ({ file, problem: e.problem! }));
  }

  /** Re-reads keys.dir now (after any read in progress) and applies what it finds. */
  refresh(): Promise<void> {
    this.reading = this.reading.then(() => this.read()).catch((e) => this.log.error({ event: 'keys_read_failed', dir: this.o.dir, err: (e as Error).message }, 'cannot read keys.dir; keeping the keys loaded'));
    return this.reading;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * A read that starts after this call (so it sees any file written before it), shared by every
   * caller until it starts, and at most one per UNKNOWN_KID_REFRESH_MS.
   */
  private readForUnknownKid(): Promise<void> {
    if (this.unknownKidRead) return this.unknownKidRead;
    const wait = Math.max(0, this.lastUnknownKidRead + (this.o.unknownKidRefreshMs ?? UNKNOWN_KID_REFRESH_MS) - performance.now());
    this.unknownKidRead = sleep(wait).then(() => {
      this.unknownKidRead = undefined;
      this.lastUnknownKidRead = performance.now();
      return this.refresh();
    });
    return this.unknownKidRead;
  }

  /** How many times keys.dir has been read (tests count work with it). */
  get reads(): number {
    return this.readCount;
  }

  private async read(): Promise<void> {
    this.readCount++;
    const files = new Map<string, FileEntry>();
    for (const name of readdirSync(this.o.dir).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(this.o.dir, name);
      const before = this.files.get(name);
      let stamp: string;
      try {
        const st = statSync(path);
        if (!st.isFile()) continue;
        stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch (e) {
        // Gone between readdir and stat: removed. Any other failure: an unreadable moment, keep it.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && before) files.set(name, before);
        continue;
      }
      files.set(name, before?.stamp === stamp ? before : await this.readFile(path, name, stamp, before));
    }
    const usable = (m: Map<string, FileEntry>) => [...m.values()].some((e) => e.key);
    if (!usable(files) && usable(this.files)) {
      // An emptied directory is far more often a volume or secret being remounted than an operator
      // withdrawing every key at once; signing nothing would refuse every login.
      this.log.error({ event: 'keys_dir_empty', dir: this.o.dir }, 'keys.dir holds no usable key now; keeping the keys loaded');
      return;
    }
    for (const [name, gone] of this.files) {
      if (files.has(name) || !gone.key) continue;
      const fields = { event: 'key_file_removed', file: join(this.o.dir, name), kid: gone.key.kid };
      if (this.observed.get(gone.key.kid) === 'retired') this.log.info(fields, 'retired signing key file removed');
      else this.log.warn(fields, 'signing key file removed: key withdrawn from the JWKS before its retirement');
    }
    this.files = files;
    // Never shortened while running: lowering a TTL by reload does not shorten tokens already signed.
    this.lifetimeSec = Math.max(this.lifetimeSec, this.o.tokenLifetimeSec?.() ?? 0);
    this.recompute();
  }

  private async readFile(path: string, name: string, stamp: string, before: FileEntry | undefined): Promise<FileEntry> {
    if (!isKeyFileName(name)) {
      this.log.warn({ event: 'key_file_skipped', file: path, reason: 'not a <kid>.jwk.json file' }, 'foreign file in keys.dir ignored');
      return { stamp, problem: 'not a <kid>.jwk.json file' };
    }
    let problem: string;
    try {
      return { stamp, key: await parseKeyFile(readFileSync(path, 'utf8')) };
    } catch (e) {
      problem = (e as Error).message;
    }
    if (before?.key) {
      // Keep the key this file held: see the class comment. The file is read again when it changes.
      this.log.warn({ event: 'key_file_skipped', file: path, reason: problem, kid: before.key.kid }, 'signing key file unreadable now; keeping the key loaded before');
      return { stamp, key: before.key, problem };
    }
    this.log.warn({ event: 'key_file_skipped', file: path, reason: problem }, 'signing key file skipped');
    return { stamp, problem };
  }

  /** The view at the clock's now, recomputed (with its audit events) when a state changes by time. */
  private current(): KeyView {
    const now = this.clock.now();
    // Also when the clock stepped back: states follow the clock, both ways.
    if (now >= this.view.changesAt || now < this.viewAt) this.recompute();
    return this.view;
  }

  private recompute(): void {
    this.viewAt = this.clock.now();
    this.view = keyStates(this.distinctKeys(), this.viewAt, this.lifetimeSec * 1000);
    const observed = new Map(this.view.statuses.map((s) => [s.key.kid, s.state]));
    // Keys present at start are the baseline; from then on every transition this gateway observes is audited.
    if (this.baselined) for (const s of this.view.statuses) this.auditTransition(s, this.observed.get(s.key.kid));
    this.observed = observed;
    this.baselined = true;
  }

  /** The loaded keys, one per kid: of two files holding the same key, the first by name counts. */
  private distinctKeys(): SigningKey[] {
    const byKid = new Map<string, SigningKey>();
    for (const name of [...this.files.keys()].sort()) {
      const key = this.files.get(name)!.key;
      if (!key) continue;
      if (!byKid.has(key.kid)) byKid.set(key.kid, key);
      else if (!this.duplicatesLogged.has(name)) {
        this.duplicatesLogged.add(name);
        this.log.warn({ event: 'key_file_skipped', file: join(this.o.dir, name), reason: `holds the same key (kid ${key.kid}) as another file` }, 'signing key file skipped');
      }
    }
    return [...byKid.values()];
  }

  private auditTransition(s: KeyStatus, before: KeyStatus['state'] | undefined): void {
    if (before === s.state) return;
    const { kid, alg, activatesAt } = s.key;
    if (before === undefined && s.state !== 'retired') audit(this.log, 'key_published', { kid, alg, activatesAt: new Date(activatesAt).toISOString() });
    const activated = s.state === 'active' || (before === 'next' && (s.state === 'retiring' || s.state === 'retired'));
    if (activated && before !== 'active') audit(this.log, 'key_activated', { kid, alg });
    if (s.state === 'retired' && before !== undefined) audit(this.log, 'key_retired', { kid, alg });
  }
}
