import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { compileIdentity } from '../identity/policy.js';
import { ParsedCertCache } from '../pki/parse-cache.js';
import { compileTrustedProxies } from '../proxy/trusted.js';
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
import type { Gateway } from './gateway.js';
import { createMetrics } from './metrics.js';

/** All forwarded headers together; each certificate header is capped at 32 KiB by its decoder. */
const MAX_HEADER_BYTES = 64 * 1024;

export interface RunningGateway {
  gateway: Gateway;
  httpPort: number;
  tlsPort?: number;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  log?: Logger;
  store?: TokenStore;
  /** CRL and OCSP download limits and retry interval (defaults: 5 s, 16 MiB, 10 s). */
  revocation?: Pick<RevocationOptions, 'timeoutMs' | 'maxBytes' | 'retryMs'>;
  /** Background CRL refresh interval (default 2 s); 0 = no timer (tests call gateway.crlWatcher.tick()). */
  crlWatchIntervalMs?: number;
}

async function buildGateway(config: Config, opts: StartOptions = {}): Promise<Gateway> {
  const log = opts.log ?? createLogger({ level: config.log.level, base: { svc: 'certgate' } });
  const clock = opts.clock ?? systemClock;
  const store = opts.store ?? storeFromConfig(config, throttledStoreErrorLog(log, clock), storePolicyLog(log));
  const identities = config.identities.map(compileIdentity);
  // Read at every keys.dir re-read, from the gateway as it is then (identities may change while running).
  let gateway: Gateway | undefined;
  const keys = await KeyRing.open({
    dir: config.keys.dir,
    clock,
    log,
    create: { algorithm: config.keys.algorithm },
    refreshMs: KEY_REFRESH_MS,
    tokenLifetimeSec: () => longestTokenLifetimeSec(gateway?.config ?? config, (gateway?.identities ?? identities).map((i) => i.config)),
  });
  const identityById = new Map(identities.map((i) => [i.config.id, i]));
  const metrics = createMetrics();
  const certs = new ParsedCertCache();
  const certRevocations = new CertificateRevocations({ store, log, clock, registry: metrics.registry });
  const revocation = killingTokensOnRevoked(
    createRevocationChecker({ ...opts.revocation, clock, log, registry: metrics.registry }),
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
    identity: (id) => identityById.get(id),
    recheckRevocation: (record, identity, now) => recheckRevocation({ store, certs, revocation }, record, identity, now),
  });
  const crlWatcher = new CrlWatcher({
    // Read at every pass from the gateway as it is then, like the key lifecycle above.
    identities: () => (gateway?.identities ?? identities).map((i) => i.config),
    source: revocation.crlWatch!,
    revocations: certRevocations,
    log,
    intervalMs: opts.crlWatchIntervalMs,
  });
  return (gateway = {
    config,
    identities,
    identityById,
    certs,
    proxies: compileTrustedProxies(config.trustedProxies),
    store,
    keys,
    tokens,
    clock,
    log,
    metrics,
    revocation,
    certRevocations,
    crlWatcher,
  });
}

/**
 * While Redis is down the client reports every reconnect attempt (several a second): log the
 * first at once, then at most one line per 30 s with how many were folded into it.
 */
function throttledStoreErrorLog(log: Logger, clock: Clock): (e: Error) => void {
  let last = -Infinity;
  let folded = 0;
  return (e) => {
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

/** Starts the plain HTTP listener and, when configured, the direct mTLS listener. */
export async function startGateway(config: Config, opts: StartOptions = {}): Promise<RunningGateway> {
  const gateway = await buildGateway(config, opts);
  const app = createApp(gateway);
  const servers: Server[] = [];
  try {
    const http = createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, app.callback());
    servers.push(http);
    answerParserErrors(http, gateway.log);
    const httpPort = await listen(http, config.server.port, config.server.host);
    let tlsPort: number | undefined;
    const tls = config.server.tls;
    if (tls) {
      // The handshake proves possession of the key; trust is still decided by the identities, so
      // the handshake requests a certificate without rejecting one it cannot verify itself.
      const ca = tls.clientCa ? readFileSync(tls.clientCa, 'utf8') : config.identities.flatMap((i) => i.bundle.map((c) => c.native.toString())).join('\n');
      const https = createHttpsServer(
        { cert: readFileSync(tls.cert), key: readFileSync(tls.key), ca: ca || undefined, requestCert: true, rejectUnauthorized: false, maxHeaderSize: MAX_HEADER_BYTES },
        app.callback(),
      );
      servers.push(https);
      answerParserErrors(https, gateway.log);
      tlsPort = await listen(https, tls.port, tls.host ?? config.server.host);
    }
    if (opts.crlWatchIntervalMs !== 0) gateway.crlWatcher.start();
    gateway.log.info({ event: 'listening', http: `${config.server.host}:${httpPort}`, tls: tlsPort, store: gateway.store.kind, identities: gateway.identities.length }, 'certgate listening');
    return {
      gateway,
      httpPort,
      tlsPort,
      async close() {
        await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); })));
        gateway.keys.close();
        await gateway.crlWatcher.stop();
        await gateway.revocation.close();
        await gateway.store.close();
      },
    };
  } catch (e) {
    servers.forEach((s) => s.close());
    gateway.keys.close();
    await gateway.revocation.close();
    await gateway.store.close();
    throw e;
  }
}
