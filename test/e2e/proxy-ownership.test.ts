/**
 * Issue 7, defect 1 on real parts: a real nginx (proxy-configs/nginx/) in front of the compiled
 * certgate and a real redis, with a second trusted-proxy entry for an Envoy (XFCC). nginx strips
 * and rewrites only its own certificate headers; a client without a certificate can get its own
 * X-Forwarded-Client-Cert through it. certgate must never read that header from nginx's address.
 *
 * Address plan on loopback:
 *   127.0.0.1  nginx's source address towards certgate: the nginx entry's only address
 *   127.0.0.9  the Envoy entry's address (a request from there stands in for a real Envoy)
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, writePem, type MintedCert } from '../helpers/pki.js';
import { startTerminator, trustedProxyFor, type Terminator, type TrustedProxyEntry } from '../helpers/terminators.js';
import { undiciClient, type Client } from './clients.js';

const LOGIN = '/api/v1/auth/tls-cert-auth/login';
const NGINX_SOURCE = '127.0.0.1';
const ENVOY_SOURCE = '127.0.0.9';

/** What Envoy writes for a verified client certificate: Hash of the DER, Cert as URL-encoded PEM. */
function xfccFor(cert: MintedCert): string {
  const hash = createHash('sha256').update(cert.der).digest('hex');
  return `By=spiffe://corp/ns/edge/sa/envoy;Hash=${hash};Cert="${encodeURIComponent(cert.pem)}"`;
}

describe('a header of another trusted-proxy entry, through a real nginx', () => {
  let redis: RedisServer;
  let certgate: CertgateProcess;
  let nginx: Terminator;
  let client: Client;
  let victim: MintedCert;
  let identities: unknown[];
  let nginxEntry: TrustedProxyEntry;
  const envoyEntry = (cidrs: string[]): TrustedProxyEntry => ({ cidrs, header: 'x-forwarded-client-cert', format: 'envoy-xfcc' });

  beforeAll(async () => {
    const dir = makeTempDir('certgate-e2e-ownership-');
    const pki = await makeTestPki();
    // The certificate of a legitimate workload: public data the attacker can obtain, not its key.
    victim = await pki.leaf({ cn: 'agent-1' });
    const bundle = pki.rootA.pem + pki.interA.pem;
    identities = [{ id: 'agents', caCertificateFile: writePem(dir, 'bundle.pem', bundle), allowedCommonNames: ['agent-*'] }];
    // The shipped nginx entry, verifyHeader included: exactly the review's nginx side.
    nginxEntry = trustedProxyFor('nginx', [`${NGINX_SOURCE}/32`]);
    expect(nginxEntry.verifyHeader).toBeDefined();
    redis = await startRedis();
    certgate = await startCertgate({
      config: { store: { url: redis.url }, trustedProxies: [nginxEntry, envoyEntry([`${ENVOY_SOURCE}/32`])], identities },
    });
    nginx = await startTerminator('nginx', { upstream: certgate.hostPort, serverCertPem: pki.server.pem, serverKeyPem: pki.server.keyPem, clientCaPem: bundle });
    client = undiciClient(pki.rootA.pem);
  });

  afterAll(async () => {
    await client?.close();
    await nginx?.stop();
    await certgate?.stop();
    await redis?.stop();
  });

  it('a client without a certificate sends its own X-Forwarded-Client-Cert through nginx: refused, no token', async () => {
    const r = await client.call({ method: 'POST', url: `${nginx.url}${LOGIN}`, body: {}, headers: { 'x-forwarded-client-cert': xfccFor(victim) } });
    expect(r.status, JSON.stringify(r.body)).toBe(401);
    expect(r.body).toEqual({ statusCode: 401, error: 'untrusted_proxy', message: expect.any(String), reqId: expect.any(String) });
    expect(JSON.stringify(r.body)).not.toContain('accessToken');
  });

  it('control: the same header from the Envoy entry\'s own address logs in, so the refusal above is about who sent it', async () => {
    const r = await client.call({ method: 'POST', url: `${certgate.url}${LOGIN}`, body: {}, headers: { 'x-forwarded-client-cert': xfccFor(victim) }, localAddress: ENVOY_SOURCE });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.accessToken).toEqual(expect.any(String));
  });

  it('the review\'s configuration (the Envoy entry\'s range covers nginx too) is refused at startup, naming both entries', async () => {
    const started = startCertgate({
      config: { store: { url: redis.url }, trustedProxies: [nginxEntry, envoyEntry(['127.0.0.0/8'])], identities },
    });
    // Before the fix this gateway started and issued a token for the forged header.
    const outcome = await started.then(
      async (gw) => {
        await gw.stop();
        return 'started';
      },
      (e: Error) => e.message,
    );
    expect(outcome).toMatch(/exited during startup/);
    expect(outcome).toMatch(/trustedProxies\[0\] \(nginx, header x-ssl-client-cert, cidr 127\.0\.0\.1\/32\) and trustedProxies\[1\] \(envoy-xfcc, header x-forwarded-client-cert, cidr 127\.0\.0\.0\/8\) overlap/);
  });
});
