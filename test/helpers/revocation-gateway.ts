/**
 * In-process gateways for the revocation suites (test/revocation/): identities behind the local
 * nginx header, a ManualClock at the suite's t0 so CRL and OCSP validity is judged against time
 * the test moves, every log line kept (parsed and raw) for assertions on what is and is not
 * logged, and a login that presents a leaf with its intermediate as nginx forwards it.
 */
import { pino } from 'pino';
import type { StartOptions } from '../../src/http/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from './gateway.js';
import { nginxEscaped, type MintedCert } from './pki.js';

export interface RevocationGateway extends TestGateway {
  clock: ManualClock;
  logs: Record<string, unknown>[];
  rawLogs: string[];
  /** POST login with leaf + intermediate in x-ssl-client-cert; identityId in the body when given. */
  login(leaf: MintedCert, identityId?: string): Promise<{ status: number; body: any }>;
}

export interface RevocationGatewayOptions {
  /** The gateways' clock starts here. */
  t0: number;
  /** The intermediate sent with every leaf (a getter: suites mint their PKI in beforeAll). */
  intermediate: () => MintedCert;
  /** Passed to startGateway: download limits and retry interval, background CRL refresh. */
  start?: Pick<StartOptions, 'revocation' | 'crlWatchIntervalMs'>;
}

const trustedProxies = [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }];

/** Starts gateways with `identities` (config paths relative to baseDir) and closes all of them at closeAll(). */
export function revocationGateways(opts: RevocationGatewayOptions) {
  const running: RevocationGateway[] = [];
  return {
    async start(identities: Record<string, unknown>[], baseDir?: string): Promise<RevocationGateway> {
      const clock = new ManualClock(opts.t0);
      const rawLogs: string[] = [];
      const logs: Record<string, unknown>[] = [];
      const log = pino({ level: 'info' }, { write: (s: string) => { rawLogs.push(s); logs.push(JSON.parse(s)); } });
      const gw = await startTestGateway({ trustedProxies, identities }, { ...opts.start, baseDir, clock, log });
      const started: RevocationGateway = {
        ...gw,
        clock,
        logs,
        rawLogs,
        login: (leaf, identityId) =>
          postJson(gw.url + LOGIN_PATH, identityId ? { identityId } : {}, { 'x-ssl-client-cert': nginxEscaped(leaf, opts.intermediate()) }),
      };
      running.push(started);
      return started;
    },
    closeAll: () => Promise.all(running.splice(0).map((g) => g.close())),
  };
}
