import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { Config, Identity } from '../config/load.js';
import { compileRoutes, type CompiledRoutes, type DispatcherPool } from '../downstream/proxy.js';
import { compileIdentity, type CompiledIdentity } from '../identity/policy.js';
import { compileTrustedProxies, type CompiledProxies } from '../proxy/trusted.js';

export type IdentitySource = 'file' | 'api';

/**
 * Everything a request needs to decide, built completely from (config file + the store's API
 * identities) and never changed afterwards. A reload builds a new one and swaps one reference
 * (LiveHolder); a request takes the current one once, at entry (liveOf), and uses it to the end,
 * so a request started on version N finishes on version N.
 */
export interface LiveState {
  /** Increases with every swap in this process (not shared between gateways). */
  readonly version: number;
  /** The file configuration in force (restart-only keys keep their running values). */
  readonly config: Config;
  /** File identities first, then API identities, in a stable order. */
  readonly identities: readonly CompiledIdentity[];
  readonly identityById: ReadonlyMap<string, CompiledIdentity>;
  readonly sourceOf: ReadonlyMap<string, IdentitySource>;
  readonly proxies: CompiledProxies;
  readonly routes: CompiledRoutes;
  /** SHA-256 of each admin token (given plainly or as `sha256:<hex>`), for constant-time checks. */
  readonly adminTokenDigests: readonly Buffer[];
}

export interface LiveInput {
  version: number;
  config: Config;
  /** API identities already validated (src/live/api-identities.ts), in id order. */
  apiIdentities: readonly Identity[];
  dispatchers: DispatcherPool;
  /**
   * The current state: when `config` is its config (an API-identity change), its proxies, routes
   * and admin digests are reused rather than rebuilt — nothing of them changed, and a route's CA
   * file is not read again.
   */
  previous?: LiveState;
}

/**
 * Builds a complete state or throws: nothing is half-built, and the caller keeps the current one
 * on a throw. An API identity whose id a file identity already uses is not built (the file wins);
 * the caller refuses such PUTs, so this only happens when the file gains that id later.
 */
export function buildLiveState(input: LiveInput): LiveState {
  const { config } = input;
  const fileIds = new Set(config.identities.map((i) => i.id));
  const api = input.apiIdentities.filter((i) => !fileIds.has(i.id));
  const identities = [...config.identities, ...api].map(compileIdentity);
  const same = input.previous?.config === config ? input.previous : undefined;
  return Object.freeze({
    version: input.version,
    config,
    identities: Object.freeze(identities),
    identityById: new Map(identities.map((i) => [i.config.id, i])),
    sourceOf: new Map<string, IdentitySource>([...config.identities.map((i) => [i.id, 'file'] as const), ...api.map((i) => [i.id, 'api'] as const)]),
    proxies: same?.proxies ?? compileTrustedProxies(config.trustedProxies),
    routes: same?.routes ?? compileRoutes(config, input.dispatchers),
    adminTokenDigests: same?.adminTokenDigests ?? config.admin.tokens.map(adminTokenDigest),
  });
}

/** `sha256:<hex>` is already the digest; anything else is the token itself. */
function adminTokenDigest(token: string): Buffer {
  if (/^sha256:[0-9a-f]{64}$/i.test(token)) return Buffer.from(token.slice(7), 'hex');
  return createHash('sha256').update(token).digest();
}

/** The one reference to the current state. Swapping it is the only way state changes. */
export class LiveHolder {
  private state: LiveState;
  private readonly listeners: ((next: LiveState, previous: LiveState) => void)[] = [];

  constructor(initial: LiveState) {
    this.state = initial;
  }

  get current(): LiveState {
    return this.state;
  }

  swap(next: LiveState): void {
    const previous = this.state;
    this.state = next;
    for (const l of this.listeners) l(next, previous);
  }

  /** Called after every swap (e.g. the TLS listener refreshes the CA names it asks for). */
  onSwap(listener: (next: LiveState, previous: LiveState) => void): void {
    this.listeners.push(listener);
  }
}

/** The state this request took at entry (set by the first middleware of src/http/app.ts). */
export function liveOf(ctx: Pick<Context, 'state'>): LiveState {
  const live = ctx.state.live as LiveState | undefined;
  if (!live) throw new Error('no live state on this request: liveState middleware missing');
  return live;
}
