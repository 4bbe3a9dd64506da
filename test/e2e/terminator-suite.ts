/**
 * One table-driven end-to-end suite, run once per terminator product (nginx.test.ts, …):
 * real redis-server + the compiled certgate as its own process + the real terminator started from
 * proxy-configs/<product>/, driven by curl, axios (https.Agent) and undici.
 *
 * Address plan on loopback (the whole 127/8 is local on Linux):
 *   127.0.0.1  the terminator's source address towards certgate: certgate's only trusted proxy
 *   127.0.0.3  a client talking to certgate's HTTP port directly (outside trustedProxies)
 *   127.0.0.5  a client of the terminator, so X-Forwarded-For can be told apart from the proxy
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintCertificate } from '../../src/pki/mint.js';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, writePem, type MintedCert, type TestPki } from '../helpers/pki.js';
import { REPO_ROOT, startTerminator, trustedProxyFor, type Terminator, type TerminatorProduct, type TrustedProxyEntry } from '../helpers/terminators.js';
import { axiosClient, curlClient, undiciClient, type Client, type ClientCreds, type Reply } from './clients.js';

export const LOGIN = '/api/v1/auth/tls-cert-auth/login';
export const SELF = '/api/v1/auth/token/self';
export const FORWARD = '/api/v1/auth/forward';

const TERMINATOR_SOURCE = '127.0.0.1';
const OUTSIDER = '127.0.0.3';
const CLIENT_ADDR = '127.0.0.5';
/** A second trusted proxy (an Envoy, XFCC) on an address of its own: never the terminator's. */
const ENVOY_ENTRY = { cidrs: ['127.0.0.9/32'], header: 'x-forwarded-client-cert', format: 'envoy-xfcc' };

/**
 * What a terminator would put in the certificate header for `cert`, per certgate format: how a
 * client forges it, and what the terminator must send instead when it presents another cert.
 */
export function encodeAs(format: string, cert: MintedCert): string {
  switch (format) {
    case 'nginx':
      // nginx's $ssl_client_escaped_cert: percent-escaped PEM, uppercase hex.
      return encodeURIComponent(cert.pem);
    case 'haproxy':
    case 'caddy':
      return Buffer.from(cert.der).toString('base64');
    case 'apache':
      // %{SSL_CLIENT_CERT}s: newlines as spaces (the trailing one is trimmed as HTTP whitespace).
      return cert.pem.trimEnd().replace(/\n/g, ' ');
    default:
      throw new Error(`no encoder for format ${format}`);
  }
}

/** Values a terminator sends (or that certgate reads) as "no certificate". */
const isNoCertificate = (lines: string[] | undefined) =>
  lines === undefined || (lines.length === 1 && /^(|\(null\)|-|\{http\.request\.[^{}]*\})$/.test(lines[0]!.trim()));

/** certgate's own refusal for a chain that leads to no certificate of the identity's bundle. */
const UNTRUSTED_CHAIN_CODE = 'chain_incomplete';

interface Ctx {
  pki: TestPki;
  proxy: TrustedProxyEntry;
  redis: RedisServer;
  certgate: CertgateProcess;
  terminator: Terminator;
  capture: { server: Server; terminator: Terminator };
  agent1: MintedCert;
  agent2: MintedCert;
  creds: { agent1: ClientCreds; agent2: ClientCreds; intruder: ClientCreds; rogue: ClientCreds };
  clients: Client[];
  caFile: string;
}

function expectError(r: Reply, status: number, code: string | string[]): void {
  const codes = Array.isArray(code) ? code : [code];
  expect({ status: r.status, error: r.body?.error }, JSON.stringify(r.body)).toEqual({ status, error: expect.toBeOneOf(codes) });
  // The contract's error shape, whichever path refused.
  expect(r.body).toEqual(expect.objectContaining({ statusCode: status, message: expect.any(String), reqId: expect.any(String) }));
}

/** An upstream that answers with what it received, so tests see exactly what a terminator forwards. */
async function startCaptureServer(): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ peer: req.socket.remoteAddress, headers: req.headersDistinct }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

export function defineTerminatorSuite(product: TerminatorProduct): void {
  describe(`certgate behind ${product} (proxy-configs/${product})`, () => {
    const ctx = {} as Ctx;

    beforeAll(async () => {
      const dir = makeTempDir(`certgate-e2e-${product}-`);
      const pki = (ctx.pki = await makeTestPki());
      ctx.proxy = trustedProxyFor(product, [`${TERMINATOR_SOURCE}/32`]);
      ctx.agent1 = await pki.leaf({ cn: 'agent-1' });
      ctx.agent2 = await pki.leaf({ cn: 'agent-2' });
      const intruder = await pki.leaf({ cn: 'intruder-1' });
      // Same allowed name, but from a CA no identity trusts.
      const rogueLeaf = await mintCertificate({ subject: 'CN=agent-1, O=rogue', issuer: pki.rogue });

      // Clients send leaf + intermediate, as a real client configured with its chain does.
      const creds = (name: string, leaf: MintedCert, inter?: MintedCert): ClientCreds => {
        const certPem = leaf.pem + (inter?.pem ?? '');
        return { certPem, keyPem: leaf.keyPem, certFile: writePem(dir, `${name}.pem`, certPem), keyFile: writePem(dir, `${name}-key.pem`, leaf.keyPem) };
      };
      ctx.creds = {
        agent1: creds('agent-1', ctx.agent1, pki.interA),
        agent2: creds('agent-2', ctx.agent2, pki.interA),
        intruder: creds('intruder-1', intruder, pki.interA),
        rogue: creds('rogue', rogueLeaf),
      };

      // Where the terminator forwards the chain, the identity holds only the root, so a login
      // proves the chain header works end to end. nginx and Caddy forward no chain: the
      // intermediate must be in the bundle (what their READMEs tell users).
      const bundle = pki.rootA.pem + (ctx.proxy.chainHeader ? '' : pki.interA.pem);
      const bundleFile = writePem(dir, 'identity-bundle.pem', bundle);

      ctx.redis = await startRedis();
      ctx.certgate = await startCertgate({
        config: {
          store: { url: ctx.redis.url },
          trustedProxies: [ctx.proxy, ENVOY_ENTRY],
          identities: [
            {
              id: 'agents',
              caCertificateFile: bundleFile,
              allowedCommonNames: ['agent-*'],
              accessTokenTTL: 600,
              accessTokenMaxTTL: 3600,
              scopes: ['certificates:request'],
            },
          ],
        },
      });
      const tls = { serverCertPem: pki.server.pem, serverKeyPem: pki.server.keyPem, clientCaPem: bundle };
      ctx.terminator = await startTerminator(product, { ...tls, upstream: ctx.certgate.hostPort });

      const captureServer = await startCaptureServer();
      const capturePort = (captureServer.address() as AddressInfo).port;
      ctx.capture = { server: captureServer, terminator: await startTerminator(product, { ...tls, upstream: `127.0.0.1:${capturePort}` }) };

      const caFile = (ctx.caFile = writePem(dir, 'root-a.pem', pki.rootA.pem));
      ctx.clients = [curlClient(caFile), axiosClient(pki.rootA.pem), undiciClient(pki.rootA.pem)];
    });

    afterAll(async () => {
      await Promise.all((ctx.clients ?? []).map((c) => c.close()));
      await ctx.capture?.terminator.stop();
      await new Promise((r) => (ctx.capture?.server ? ctx.capture.server.close(r) : r(undefined)));
      await ctx.terminator?.stop();
      await ctx.certgate?.stop();
      await ctx.redis?.stop();
    });

    // A failure through three processes is opaque without their side of the story: print it.
    afterEach(({ task }) => {
      if (task.result?.state !== 'fail') return;
      const tail = (name: string, p: { running: boolean; output(): string } | undefined) =>
        p ? `--- ${name} (${p.running ? 'running' : 'NOT RUNNING'}) ---\n${p.output().slice(-4000)}` : '';
      console.error([tail('certgate', ctx.certgate?.process), tail(product, ctx.terminator?.process)].join('\n'));
    });

    const client = (name: Client['name']) => ctx.clients.find((c) => c.name === name)!;
    const via = (path: string) => `${ctx.terminator.url}${path}`;
    /** The forged header set: a trusted, valid cert's public data, without its key. */
    const forged = (): Record<string, string> => {
      const h: Record<string, string> = { [ctx.proxy.header]: encodeAs(ctx.proxy.format, ctx.agent2) };
      if (ctx.proxy.chainHeader) h[ctx.proxy.chainHeader] = encodeAs(ctx.proxy.format, ctx.pki.interA);
      if (ctx.proxy.verifyHeader) h[ctx.proxy.verifyHeader] = ctx.proxy.format === 'haproxy' ? '0' : 'SUCCESS';
      return h;
    };

    describe.each(['curl', 'axios', 'undici'] as const)('%s', (name) => {
      it('logs in through the terminator, then uses the token through it', async () => {
        const c = client(name);
        const login = await c.call({ method: 'POST', url: via(LOGIN), body: {}, creds: ctx.creds.agent1 });
        expect(login.status, JSON.stringify(login.body)).toBe(200);
        expect(login.body).toEqual(
          expect.objectContaining({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: expect.any(Number), accessTokenMaxTTL: expect.any(Number) }),
        );
        expect(login.body.expiresIn).toBeGreaterThan(0);
        expect(login.body.expiresIn).toBeLessThanOrEqual(600);

        // The follow-up call carries no client certificate: the token is the credential.
        const self = await c.call({ method: 'GET', url: via(SELF), headers: { authorization: `Bearer ${login.body.accessToken}` } });
        expect(self.status, JSON.stringify(self.body)).toBe(200);
        expect(self.body.identityId).toBe('agents');
        expect(JSON.stringify(self.body.subject)).toContain('agent-1');
      });

      it('without a client certificate: 401 certificate_required', async () => {
        const r = await client(name).call({ method: 'POST', url: via(LOGIN), body: {} });
        expectError(r, 401, 'certificate_required');
      });

      it('with a certificate from an untrusted CA: 401', async () => {
        const r = await client(name).call({ method: 'POST', url: via(LOGIN), body: {}, creds: ctx.creds.rogue });
        // With a verifyHeader the terminator's own verdict refuses first; without one (Caddy),
        // certgate's chain validation does.
        expectError(r, 401, ctx.proxy.verifyHeader ? 'proxy_verification_failed' : UNTRUSTED_CHAIN_CODE);
      });

      it('a forged certificate header without a certificate is stripped: 401 certificate_required', async () => {
        const r = await client(name).call({ method: 'POST', url: via(LOGIN), body: {}, headers: forged() });
        expectError(r, 401, 'certificate_required');
      });

      it('another trusted proxy\'s certificate header (XFCC) through the terminator: 401 untrusted_proxy, no token', async () => {
        // The terminator strips only its own header; certgate must not read the Envoy entry's
        // header from the terminator's address (issue 7, defect 1).
        const xfcc = `Hash=${createHash('sha256').update(ctx.agent2.der).digest('hex')};Cert="${encodeURIComponent(ctx.agent2.pem)}"`;
        const r = await client(name).call({ method: 'POST', url: via(LOGIN), body: {}, headers: { [ENVOY_ENTRY.header]: xfcc } });
        expectError(r, 401, 'untrusted_proxy');
        expect(r.body.accessToken).toBeUndefined();
      });

      it('directly to certgate from outside trustedProxies with a forged header: 401 untrusted_proxy', async () => {
        const r = await client(name).call({ method: 'POST', url: `${ctx.certgate.url}${LOGIN}`, body: {}, headers: forged(), localAddress: OUTSIDER });
        expectError(r, 401, 'untrusted_proxy');
      });
    });

    it('control: the forged headers WOULD log in if the terminator passed them on', async () => {
      // Proves the stripping tests above refuse a forgery that is otherwise perfectly good: sent
      // from the terminator's own address, certgate accepts it (which is why only the terminator
      // may reach certgate's port, and why it must strip).
      const r = await client('undici').call({ method: 'POST', url: `${ctx.certgate.url}${LOGIN}`, body: {}, headers: forged(), localAddress: TERMINATOR_SOURCE });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    it('a forged header next to a real certificate: the presented certificate wins', async () => {
      const c = client('undici');
      const login = await c.call({ method: 'POST', url: via(LOGIN), body: {}, creds: ctx.creds.agent1, headers: forged() });
      expect(login.status, JSON.stringify(login.body)).toBe(200);
      const self = await c.call({ method: 'GET', url: via(SELF), headers: { authorization: `Bearer ${login.body.accessToken}` } });
      expect(JSON.stringify(self.body.subject)).toContain('agent-1');
      expect(JSON.stringify(self.body.subject)).not.toContain('agent-2');
    });

    it('a certificate the terminator accepts is still subject to the identity policy', async () => {
      const r = await client('curl').call({ method: 'POST', url: via(LOGIN), body: {}, creds: ctx.creds.intruder });
      expectError(r, 401, 'common_name_not_allowed');
    });

    it('the token works for forward-auth through the terminator', async () => {
      const c = client('curl');
      const login = await c.call({ method: 'POST', url: via(LOGIN), body: { identityId: 'agents' }, creds: ctx.creds.agent2 });
      expect(login.status, JSON.stringify(login.body)).toBe(200);
      const fwd = await c.call({ method: 'GET', url: via(FORWARD), headers: { authorization: `Bearer ${login.body.accessToken}` } });
      expect(fwd.status, JSON.stringify(fwd.body)).toBe(204);
      expect(fwd.headers['x-certgate-identity']).toBe('agents');
    });

    it('examples/node-client/login.mjs logs in and calls a protected route through it', async () => {
      const script = `${REPO_ROOT}/examples/node-client/login.mjs`;
      const args = [script, '--url', ctx.terminator.url, '--cert', ctx.creds.agent1.certFile, '--key', ctx.creds.agent1.keyFile, '--ca', ctx.caFile];
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
        execFile(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
        ),
      );
      expect(JSON.parse(stdout)).toEqual(expect.objectContaining({ identityId: 'agents' }));
      expect(stderr).toMatch(/^logged in: Bearer token/);
      // The example must never print the token.
      expect(stdout + stderr).not.toMatch(/eyJ[\w-]+\.eyJ/);
    });

    describe('what the terminator forwards (captured by a plain upstream)', () => {
      /** Every header certgate trusts from this terminator, forged by the client, some twice. */
      const forgedWithDuplicates = () => {
        const h: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(forged())) h[k] = [v, v];
        // A different spelling of the same name must be caught too.
        h[ctx.proxy.header.toUpperCase()] = encodeAs(ctx.proxy.format, ctx.agent2);
        h['x-forwarded-for'] = ['203.0.113.7', '127.0.0.1'];
        return h;
      };
      const capture = async (creds?: ClientCreds) => {
        const r = await client('curl').call({
          method: 'GET',
          url: `${ctx.capture.terminator.url}/anything`,
          headers: forgedWithDuplicates(),
          creds,
          localAddress: CLIENT_ADDR,
        });
        expect(r.status).toBe(200);
        return r.body as { peer: string; headers: Record<string, string[] | undefined> };
      };

      it('with a certificate: exactly the presented one, the peer as X-Forwarded-For, from 127.0.0.1', async () => {
        const { peer, headers } = await capture(ctx.creds.agent1);
        // certgate trusts 127.0.0.1/32 only because this is where the terminator connects from.
        expect(peer.replace(/^::ffff:/, '')).toBe(TERMINATOR_SOURCE);
        expect(headers[ctx.proxy.header]).toEqual([encodeAs(ctx.proxy.format, ctx.agent1)]);
        if (ctx.proxy.chainHeader) expect(headers[ctx.proxy.chainHeader]).toEqual([encodeAs(ctx.proxy.format, ctx.pki.interA)]);
        if (ctx.proxy.verifyHeader) expect(headers[ctx.proxy.verifyHeader]).toEqual([ctx.proxy.format === 'haproxy' ? '0' : 'SUCCESS']);
        expect(headers['x-forwarded-for']).toEqual([CLIENT_ADDR]);
      });

      it('without a certificate: no certificate header survives, X-Forwarded-For is the peer', async () => {
        const { headers } = await capture();
        expect(isNoCertificate(headers[ctx.proxy.header]), JSON.stringify(headers[ctx.proxy.header])).toBe(true);
        if (ctx.proxy.chainHeader) expect(isNoCertificate(headers[ctx.proxy.chainHeader])).toBe(true);
        if (ctx.proxy.verifyHeader) expect(headers[ctx.proxy.verifyHeader] ?? []).not.toContain(ctx.proxy.format === 'haproxy' ? '0' : 'SUCCESS');
        expect(headers['x-forwarded-for']).toEqual([CLIENT_ADDR]);
      });
    });
  });
}
