import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PATH_WORK_UNITS } from '../../src/pki/path/path-work.js';
import { MAX_CHAIN_LENGTH } from '../../src/proxy/types.js';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { hostileChain, type HostileChain } from '../helpers/hostile-chain.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, writePem, type MintedCert, type TestPki } from '../helpers/pki.js';
import { freePort } from '../helpers/ports.js';

/**
 * Issue 7, defect 2, end to end: the compiled gateway's direct mTLS listener receives the most
 * expensive chain a client can build (see hostile-chain.ts) on an unnamed login tried against
 * several identities. The work it does is read from its own counters on /metrics, never timed;
 * honest logins sent alongside keep being answered.
 */
describe('path search budget through the direct mTLS listener', () => {
  let pki: TestPki;
  let hostile: HostileChain;
  let honest: MintedCert;
  let gw: CertgateProcess;
  let tlsPort: number;

  beforeAll(async () => {
    pki = await makeTestPki();
    hostile = await hostileChain();
    honest = await pki.leaf({ cn: 'agent-1' });
    const dir = makeTempDir('certgate-budget-');
    writePem(dir, 'server.pem', pki.server.pem);
    writePem(dir, 'server-key.pem', pki.server.keyPem);
    tlsPort = await freePort('127.0.0.1');
    const identity = (id: string, ca: string) => ({ id, caCertificate: ca, allowedCommonNames: ['agent-*'] });
    gw = await startCertgate({
      dir,
      config: {
        store: { url: 'memory' },
        log: { level: 'warn' },
        server: { tls: { port: tlsPort, cert: 'server.pem', key: 'server-key.pem' } },
        // Three identities: a login without identityId tries them all.
        identities: [identity('alpha', pki.rootA.pem), identity('beta', pki.rootB.pem), identity('gamma', pki.rogue.pem)],
      },
    });
  }, 120_000);
  afterAll(() => gw?.stop());

  /** POST login on the direct listener presenting `certPem` (leaf + chain) with `keyPem`. */
  const login = (certPem: string, keyPem: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: tlsPort, method: 'POST', path: '/api/v1/auth/tls-cert-auth/login', cert: certPem, key: keyPem, ca: pki.rootA.pem, agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });

  const counter = async (name: string): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  it('refuses the worst chain with 401 path_search_budget_exceeded after at most one budget of work, while honest logins are served', async () => {
    const attack = hostile.leaf.pem + hostile.chain.map((c) => c.pem).join('');
    const unitsBefore = await counter('certgate_path_work_units_total');
    const verifiesBefore = await counter('certgate_path_signature_verifications_total');

    const attacks = 3;
    const answers = await Promise.all([
      ...Array.from({ length: attacks }, () => login(attack, hostile.leaf.keyPem)),
      login(honest.pem + pki.interA.pem, honest.keyPem),
      login(honest.pem + pki.interA.pem, honest.keyPem),
    ]);
    for (const a of answers.slice(0, attacks)) {
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({ statusCode: 401, error: 'path_search_budget_exceeded' });
    }
    for (const a of answers.slice(attacks)) {
      expect(a.status).toBe(200);
      expect(a.body.accessToken).toEqual(expect.any(String));
    }

    const units = (await counter('certgate_path_work_units_total')) - unitsBefore;
    const verifies = (await counter('certgate_path_signature_verifications_total')) - verifiesBefore;
    // Each attack stops within one budget of RSA-8192 verifications (30 units each); each honest
    // login costs two P-256 verifications (3 units each).
    expect(units).toBeLessThanOrEqual(attacks * DEFAULT_PATH_WORK_UNITS + 2 * 6);
    expect(verifies).toBeLessThanOrEqual(attacks * Math.floor(DEFAULT_PATH_WORK_UNITS / 30) + 2 * 2);
    expect(units).toBeGreaterThan(attacks * (DEFAULT_PATH_WORK_UNITS - 30)); // the attack really reached the search
  }, 60_000);

  it('a chain longer than the cap is refused before any path search (400 chain_too_long)', async () => {
    const long = await hostileChain({ total: MAX_CHAIN_LENGTH + 1 });
    const verifiesBefore = await counter('certgate_path_signature_verifications_total');
    const a = await login(long.leaf.pem + long.chain.map((c) => c.pem).join(''), long.leaf.keyPem);
    expect(a.status).toBe(400);
    expect(a.body.error).toBe('chain_too_long');
    expect(await counter('certgate_path_signature_verifications_total')).toBe(verifiesBefore);
  });
});
