/**
 * A real certgate for the client and agent suites: redis-server, the compiled gateway with its
 * direct mTLS listener, and optionally real nginx (proxy-configs/nginx) in front of it. Identity
 * `agents` accepts CN agent-* from the test PKI's intermediate; TTLs are short so renewals and
 * re-logins happen inside a test.
 */
import { startCertgate, type CertgateProcess } from './certgate-process.js';
import { makeTempDir, startRedis, type RedisServer } from './launcher.js';
import { makeTestPki, writePem, type MintedCert, type TestPki } from './pki.js';
import { freePort } from './ports.js';
import { startTerminator, trustedProxyFor, type Terminator } from './terminators.js';

export interface ClientCredsFiles {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  leaf: MintedCert;
}

export interface ClientGateway {
  pki: TestPki;
  dir: string;
  redis: RedisServer;
  certgate: CertgateProcess;
  /** https://127.0.0.1:PORT — certgate's own mTLS listener. */
  tlsUrl: string;
  nginx?: Terminator;
  /** Server CA (PEM and file) for either URL. */
  ca: string;
  caFile: string;
  /** A client certificate for CN `cn` (leaf + intermediate), as PEM and as files. */
  creds(cn: string): Promise<ClientCredsFiles>;
  /** certgate_logins_total{outcome="success"} from /metrics. */
  logins(): Promise<number>;
  /** Audit lines of the gateway for `event` with outcome success. */
  auditCount(event: 'login' | 'renew'): number;
  stop(): Promise<void>;
}

export interface ClientGatewayOptions {
  accessTokenTTL?: number;
  accessTokenMaxTTL?: number;
  nginx?: boolean;
}

export async function startClientGateway(o: ClientGatewayOptions = {}): Promise<ClientGateway> {
  const dir = makeTempDir('certgate-client-');
  const pki = await makeTestPki();
  const bundleFile = writePem(dir, 'identity-bundle.pem', pki.rootA.pem + pki.interA.pem);
  const caFile = writePem(dir, 'ca.pem', pki.rootA.pem);
  const serverCert = writePem(dir, 'server.pem', pki.server.pem);
  const serverKey = writePem(dir, 'server-key.pem', pki.server.keyPem);
  const redis = await startRedis();
  const tlsPort = await freePort();
  const certgate = await startCertgate({
    config: {
      store: { url: redis.url },
      server: { tls: { port: tlsPort, cert: serverCert, key: serverKey, clientCa: bundleFile } },
      ...(o.nginx ? { trustedProxies: [trustedProxyFor('nginx', ['127.0.0.1/32'])] } : {}),
      identities: [
        {
          id: 'agents',
          caCertificateFile: bundleFile,
          allowedCommonNames: ['agent-*'],
          accessTokenTTL: o.accessTokenTTL ?? 600,
          accessTokenMaxTTL: o.accessTokenMaxTTL ?? 3600,
          scopes: ['certificates:request'],
        },
      ],
    },
  });
  const nginx = o.nginx
    ? await startTerminator('nginx', { upstream: certgate.hostPort, serverCertPem: pki.server.pem, serverKeyPem: pki.server.keyPem, clientCaPem: pki.rootA.pem + pki.interA.pem })
    : undefined;
  const countMetric = async () => {
    const text = await (await fetch(`${certgate.url}/metrics`)).text();
    const m = /^certgate_logins_total\{[^}]*outcome="success"[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };
  return {
    pki,
    dir,
    redis,
    certgate,
    tlsUrl: `https://127.0.0.1:${tlsPort}`,
    nginx,
    ca: pki.rootA.pem,
    caFile,
    creds: async (cn) => {
      const leaf = await pki.leaf({ cn });
      const cert = leaf.pem + pki.interA.pem;
      return { cert, key: leaf.keyPem, leaf, certFile: writePem(dir, `${cn}.pem`, cert), keyFile: writePem(dir, `${cn}-key.pem`, leaf.keyPem) };
    },
    logins: countMetric,
    auditCount: (event) =>
      certgate.process
        .output()
        .split('\n')
        .filter((l) => l.includes(`"event":"${event}"`) && l.includes('"outcome":"success"')).length,
    stop: async () => {
      await nginx?.stop();
      await certgate.stop();
      await redis.stop();
    },
  };
}

/** The payload of a JWT (no verification: tests compare jti and sub). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

