import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { VerifiedPathCache } from '../identity/path-cache.js';
import type { CompiledIdentity } from '../identity/policy.js';
import { DispatcherPool } from '../downstream/proxy.js';
import { LiveController, type ReloadResult, type ReloadTrigger } from '../live/controller.js';
import { buildLiveState, LiveHolder } from '../live/state.js';
import { StoreHealth } from '../live/store-health.js';
import { certificatePem } from '../pki/parsing/certificate.js';
import { ParsedCertCache } from '../pki/parsing/parse-cache.js';
import { CertificateRevocations, killingTokensOnRevoked } from '../revocation/certificate-revocations.js';
import { createRevocationChecker, type RevocationOptions } from '../revocation/checker.js';
import { CrlWatcher } from '../revocation/crl-watcher.js';
import { recheckRevocation } from '../revocation/renew-recheck.js';
import { audit } from '../audit/events.js';
import { storeFromConfig } from '../store/from-config.js';
import type { PolicyVerdict } from '../store/redis-policy.js';
import type { TokenStore } from '../store/types.js';
import { longestTokenLifetimeSec } from '../token/key-lifecycle.js';
import { KEY_REFRESH_MS, KeyRing } from '../token/keys.js';
import { TokenService } from '../token/service.js';
import { systemClock, type Clock } from '../util/clock.js';
import { createLogger } from '../util/logger.js';
import { createApp } from './app.js';
import { answerParserErrors } from './client-error.js';
import { withFastPaths } from './fast-paths.js';
import { LeafAdmission } from './leaf-admission.js';
import type { Gateway } from './gateway.js';
import { createMetrics } from './metrics.js';
import { appliedHeapSettings } from '../util/heap-settings.js';

/** All forwarded headers together; each certificate header is capped at 32 KiB by its decoder. */
const MAX_HEADER_BYTES = 64 * 1024;

export interface RunningGateway {
  gateway: Gateway;
  httpPort: number;
  tlsPort?: number;
  /** Re-reads the config file and swaps in the state it describes (or keeps the current one). */
  reload(trigger?: ReloadTrigger): Promise<ReloadResult>;
  /**
   * Graceful stop: /readyz answers 503 at once, no new connections, requests in flight are
   * answered, idle keep-alive connections closed; whatever is still open after
   * server.shutdownTimeout is closed. Resolves when everything is closed (store included).
   */
  drain(): Promise<{ forced: number }>;
  /** Immediate stop (tests): every connection closed at once. */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  log?: Logger;
  store?: TokenStore;
  /** CRL and OCSP download limits and retry interval (defaults: 5 s, 16 MiB, 10 s). */
  revocation?: Pick<RevocationOptions, 'timeoutMs' | 'maxBytes' | 'retryMs'>;
  /** The file `config` was read from: reloads re-read it, and changes to it are watched. */
  configFile?: string;
  /** How often API identities are looked for in the store (default 500 ms). */
  identityPollMs?: number;
  /** Background CRL refresh interval (default 2 s); 0 = no timer (tests call gateway.crlWatcher.tick()). */
  crlWatchIntervalMs?: number;
  /** Fields on every log line of the logger the gateway creates (a cluster worker adds its id). */
  logFields?: Record<string, unknown>;
  /** Watch configFile for changes (default true; a cluster worker's primary watches instead). */
  watchConfigFile?: boolean;
}

async function buildGateway(config: Config, opts: StartOptions = {}): Promise<{ gateway: Gateway; dispatchers: DispatcherPool }> {
  const log = opts.log ?? createLogger({ level: config.log.level, base: { svc: 'certgate', ...opts.logFields } });
  const clock = opts.clock ?? systemClock;
  const health = new StoreHealth(log, clock);
  const store = opts.store ?? storeFromConfig(config, throttledStoreErrorLog(log, clock, health), storePolicyLog(log));
  const dispatchers = new DispatcherPool();
  const live = new LiveHolder(buildLiveState({ version: 1, config, apiIdentities: [], dispatchers }));
  // Read at every keys.dir re-read, from the live state as it is then (identities change while running).
  const keys = await KeyRing.open({
    dir: config.keys.dir,
    clock,
    log,
    create: { algorithm: config.keys.algorithm },
    refreshMs: KEY_REFRESH_MS,
    tokenLifetimeSec: () => longestTokenLifetimeSec(live.current.config, live.current.identities.map((i) => i.config)),
  });
  const metrics = createMetrics();
  const paths = new VerifiedPathCache();
  // 16 MiB (~1,500 EC leaves with their intermediates): repeat logins and shared intermediates
  // hit; a bigger budget mostly holds certificates that never come back (bench --rss).
  const certs = new ParsedCertCache({ maxBytes: 16 * 1024 * 1024 });
  const certRevocations = new CertificateRevocations({ store, log, clock, registry: metrics.registry });
  const revocation = killingTokensOnRevoked(
    createRevocationChecker({ ...opts.revocation, clock, log, registry: metrics.registry, onDataChanged: () => paths.clear() }),
    certRevocations,
    'revocation-check',
  );
  const tokens = new TokenService({
    issuer: config.issuer,
    audience: config.audience,
    clockSkewSeconds: config.clockSkewSeconds,
    store,
    keys,
    clock,
    // The newest state, not the request's: a token of an identity removed a moment ago dies now.
    identity: (id) => live.current.identityById.get(id),
    recheckRevocation: (record, identity, now) => recheckRevocation({ store, certs, revocation }, record, identity, now),
  });
  const crlWatcher = new CrlWatcher({
    // The newest state at every pass: reloaded revocation config and API identities apply.
    identities: () => live.current.identities.map((i) => i.config),
    source: revocation.crlWatch!,
    revocations: certRevocations,
    log,
    intervalMs: opts.crlWatchIntervalMs,
  });
  const control = new LiveController({ holder: live, configFile: opts.configFile, store, log, metrics, dispatchers, health, applyLogLevel: !opts.log, pollMs: opts.identityPollMs, watchFile: opts.watchConfigFile });
  const gateway: Gateway = {
    live,
    control,
    lifecycle: { draining: false },
    health,
    get config() {
      return live.current.config;
    },
    get identities() {
      return live.current.identities;
    },
    get identityById() {
      return live.current.identityById;
    },
    get proxies() {
      return live.current.proxies;
    },
    certs,
    leafAdmission: new LeafAdmission(),
    paths,
    store,
    keys,
    tokens,
    clock,
    log,
    metrics,
    revocation,
    certRevocations,
    crlWatcher,
  };
  return { gateway, dispatchers };
}

/**
 * While Redis is down the client reports every reconnect attempt (several a second): log the
 * first at once, then at most one line per 30 s with how many were folded into it.
 */
function throttledStoreErrorLog(log: Logger, clock: Clock, health: StoreHealth): (e: Error) => void {
  let last = -Infinity;
  let folded = 0;
  return (e) => {
    health.failed(e);
    const now = clock.now();
    if (now - last < 30_000) {
      folded++;
      return;
    }
    log.warn({ event: 'store_error', err: e.message, repeated: folded }, 'token store connection error');
    last = now;
    folded = 0;
  };
}

/** Redis's maxmemory-policy verdicts (src/store/redis-policy.ts), logged when they change. */
function storePolicyLog(log: Logger): (v: PolicyVerdict) => void {
  return (v) => {
    if (v.status === 'misconfigured') audit(log, 'store_misconfigured', { node: v.node, policy: v.policy, reason: v.message }, v.message);
    else if (v.status === 'unverifiable') log.warn({ event: 'store_policy_unverifiable', node: v.node }, v.message);
    else log.info({ event: 'store_policy_ok', node: v.node, policy: v.policy }, `Redis at ${v.node} has maxmemory-policy ${v.policy}`);
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** The CA names the direct listener asks clients for: clientCa, else every identity's bundle. */
function requestedCaNames(config: Config, identities: readonly CompiledIdentity[]): string | undefined {
  const tls = config.server.tls;
  if (tls?.clientCa) return readFileSync(tls.clientCa, 'utf8');
  return identities.flatMap((i) => i.config.bundle.map((c) => certificatePem(c.der))).join('\n') || undefined;
}

/** Starts the plain HTTP listener and, when configured, the direct mTLS listener. */
export async function startGateway(config: Config, opts: StartOptions = {}): Promise<RunningGateway> {
  const { gateway, dispatchers } = await buildGateway(config, opts);
  const release = async () => {
    gateway.control.close();
    gateway.keys.close();
    await gateway.crlWatcher.stop();
    await gateway.revocation.close();
    await dispatchers.close();
    await gateway.store.close();
  };
  // API identities before the first request, when the store answers; else the poll brings them.
  if (!(await gateway.control.syncIdentities(true))) {
    gateway.log.warn({ event: 'identities_not_loaded' }, 'the store did not answer: API identities are loaded once it does');
  }
  const app = createApp(gateway);
  const handler = withFastPaths(gateway, app.callback());
  const servers: Server[] = [];
  try {
    const http = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler);
    servers.push(http);
    answerParserErrors(http, gateway.log);
    const httpPort = await listen(http, config.server.port, config.server.host);
    let tlsPort: number | undefined;
    const tls = config.server.tls;
    if (tls) {
      // The handshake proves possession of the key; trust is still decided by the identities, so
      // the handshake requests a certificate without rejecting one it cannot verify itself.
      const material = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
      let caNames = requestedCaNames(config, gateway.identities);
      const https = createHttpsServer(
        { ...material, ca: caNames, requestCert: true, rejectUnauthorized: false, maxHeaderSize: MAX_HEADER_BYTES },
        handler,
      );
      // Identities added or removed by a reload change the CA names new handshakes ask for
      // (server.tls.clientCa, like all of server.*, changes only with a restart).
      gateway.live.onSwap((next) => {
        if (tls.clientCa) return;
        const names = requestedCaNames(next.config, next.identities);
        if (names === caNames) return;
        caNames = names;
        https.setSecureContext({ ...material, ca: names });
      });
      servers.push(https);
      answerParserErrors(https, gateway.log);
      tlsPort = await listen(https, tls.port, tls.host ?? config.server.host);
    }
    gateway.control.start();
    if (opts.crlWatchIntervalMs !== 0) gateway.crlWatcher.start();
    gateway.log.info({ event: 'listening', http: `${config.server.host}:${httpPort}`, tls: tlsPort, store: gateway.store.kind, identities: gateway.identities.length, v8: appliedHeapSettings() }, 'certgate listening');
    let draining: Promise<{ forced: number }> | undefined;
    return {
      gateway,
      httpPort,
      tlsPort,
      reload: (trigger = 'manual') => gateway.control.reload(trigger),
      drain: () => (draining ??= drain(gateway, servers, release)),
      async close() {
        await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); })));
        await release();
      },
    };
  } catch (e) {
    servers.forEach((s) => s.close());
    await release();
    throw e;
  }
}

/**
 * The graceful stop behind RunningGateway.drain. server.close() stops accepting and closes idle
 * connections; answers given while draining carry `Connection: close` (src/http/app.ts), and idle
 * connections are swept every 100 ms, so keep-alive clients move to another gateway. After
 * server.shutdownTimeout the rest is closed by force; the count is logged.
 */
async function drain(gateway: Gateway, servers: Server[], release: () => Promise<void>): Promise<{ forced: number }> {
  gateway.lifecycle.draining = true;
  gateway.control.close();
  const timeoutMs = gateway.config.server.shutdownTimeout * 1000;
  gateway.log.info({ event: 'draining', timeoutMs }, 'certgate draining: no new connections, answering requests in flight');
  const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  const sweep = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100);
  servers.forEach((s) => s.closeIdleConnections());
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<true>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
  const late = await Promise.race([closed.then(() => false as const), timedOut]);
  clearInterval(sweep);
  clearTimeout(timer);
  let forced = 0;
  if (late) {
    for (const s of servers) {
      forced += await new Promise<number>((r) => s.getConnections((_e, n) => r(n ?? 0)));
      s.closeAllConnections();
    }
    gateway.log.warn({ event: 'drain_timeout', forced, timeoutMs }, 'shutdownTimeout reached: remaining connections closed');
    await closed;
  }
  await release();
  return { forced };
}
