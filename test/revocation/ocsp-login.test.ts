import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintCertificate } from '../../src/pki/mint.js';
import { getJson } from '../helpers/gateway.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { revocationGateways } from '../helpers/revocation-gateway.js';
import { closedPort, DAY, HOUR, makeCrl, startCrlServer, type CrlServer } from './crl-fixtures.js';
import { OCSP_SIGNING, startOcspResponder, type OcspAnswer, type OcspResponder } from './ocsp-fixtures.js';

/**
 * OCSP at login through the real HTTP stack: a pkijs responder on 127.0.0.1 answers the gateway's
 * POSTs; verdicts are judged against the gateway's ManualClock.
 */

const t0 = Date.now();
const RETRY_MS = 10_000;
let pki: TestPki;
let ocsp: OcspResponder;
let crls: CrlServer;
/** serial → status, for the routes that look it up. */
const statuses = new Map<string, 'good' | 'revoked' | 'unknown'>();

const gateways = revocationGateways({ t0, intermediate: () => pki.interA, start: { revocation: { retryMs: RETRY_MS, timeoutMs: 2000 } } });
const gateway = gateways.start;

const identity = (id: string, revocation: Record<string, unknown>) => ({
  id,
  caCertificate: pki.rootA.pem,
  allowedCommonNames: ['agent-*'],
  revocation,
});
const ocspOn = (extra: Record<string, unknown> = {}, onUnavailable = 'failClosed') => ({ ocsp: { enabled: true, ...extra }, onUnavailable });

const fresh = { thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + DAY) };
/** A route answering from `statuses`, signed by the intermediate itself unless told otherwise. */
const byStatus = (a: Partial<OcspAnswer> = {}) => (serial: string): OcspAnswer => ({
  signer: pki.interA,
  status: statuses.get(serial) ?? 'good',
  ...fresh,
  ...a,
});
const leafAt = (cn: string, path: string, status: 'good' | 'revoked' | 'unknown' = 'good') =>
  pki.leaf({ cn, ocspUrl: ocsp.url(path) }).then((m) => {
    statuses.set(m.cert.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, ''), status);
    return m;
  });

beforeAll(async () => {
  pki = await makeTestPki();
  ocsp = await startOcspResponder();
  crls = await startCrlServer();
});
afterEach(() => gateways.closeAll());
afterAll(async () => {
  await ocsp?.stop();
  await crls?.stop();
});

describe('OCSP at login', () => {
  it('good → 200 and revoked → certificate_revoked, answers signed by the CA, asked by POST application/ocsp-request', async () => {
    ocsp.routes.set('/ca', byStatus());
    const good = await leafAt('agent-1', '/ca');
    const bad = await leafAt('agent-2', '/ca', 'revoked');
    const gw = await gateway([identity('agents', ocspOn())]);

    const ok = await gw.login(good, 'agents');
    expect(ok.status).toBe(200);
    expect(typeof ok.body.accessToken).toBe('string');
    const no = await gw.login(bad, 'agents');
    expect(no.status).toBe(401);
    expect(no.body).toMatchObject({ statusCode: 401, error: 'certificate_revoked' });

    const seen = ocsp.requests.filter((r) => r.path === '/ca');
    expect(seen.map((r) => [r.method, r.contentType])).toEqual([['POST', 'application/ocsp-request'], ['POST', 'application/ocsp-request']]);
    const metrics = await getJson(gw.url + '/metrics');
    expect(metrics.body).toMatch(/certgate_revocation_checks_total\{identity="agents",outcome="revoked"\} 1/);
    expect(metrics.body).toMatch(/certgate_revocation_checks_total\{identity="agents",outcome="good"\} 1/);
    expect(metrics.body).toMatch(/certgate_ocsp_requests_total\{outcome="good"\} 1/);
    expect(metrics.body).toMatch(/certgate_ocsp_requests_total\{outcome="revoked"\} 1/);
  });

  it('accepts answers from a delegated responder (issued by the CA, EKU OCSPSigning)', async () => {
    const responder = await mintCertificate({ subject: 'CN=Delegated OCSP', issuer: pki.interA, eku: [OCSP_SIGNING] });
    ocsp.routes.set('/delegated', byStatus({ signer: responder, certs: [responder] }));
    const good = await leafAt('agent-1', '/delegated');
    const bad = await leafAt('agent-2', '/delegated', 'revoked');
    const gw = await gateway([identity('agents', ocspOn())]);
    expect((await gw.login(good, 'agents')).status).toBe(200);
    expect((await gw.login(bad, 'agents')).body.error).toBe('certificate_revoked');
  });

  it('an invalid answer (delegated responder without OCSPSigning, unrelated key) is unavailable: failClosed refuses, failOpen lets in', async () => {
    const noEku = await mintCertificate({ subject: 'CN=Not A Responder', issuer: pki.interA, eku: ['clientAuth'] });
    const stranger = await mintCertificate({ subject: 'CN=Stranger', eku: [OCSP_SIGNING] });
    ocsp.routes.set('/no-eku', byStatus({ signer: noEku, certs: [noEku] }));
    ocsp.routes.set('/stranger', byStatus({ signer: stranger, certs: [stranger] }));
    ocsp.routes.set('/forged', byStatus({ signWith: stranger.keys.privateKey }));
    const gw = await gateway([identity('closed', ocspOn()), identity('open', ocspOn({}, 'failOpen'))]);

    for (const [path, why] of [['/no-eku', /lacks extended key usage id-kp-OCSPSigning/], ['/stranger', /not issued by/], ['/forged', /signature does not verify/]] as const) {
      // Revoked per the route, but an answer that does not verify says nothing.
      const leaf = await leafAt('agent-1', path, 'revoked');
      const closed = await gw.login(leaf, 'closed');
      expect(closed.status).toBe(401);
      expect(closed.body.error).toBe('revocation_unavailable');
      expect(closed.body.message).not.toContain(ocsp.base);
      expect((await gw.login(leaf, 'open')).status).toBe(200);
      const warn = gw.logs.filter((l) => l.event === 'revocation_unavailable' && l.identity === 'open').at(-1)!;
      expect(warn).toMatchObject({ level: 40, policy: 'failOpen', outcome: 'allowed' });
      expect((warn.problems as string[]).join()).toMatch(why);
      expect(gw.logs).toContainEqual(expect.objectContaining({ event: 'ocsp_request_failed', url: ocsp.url(path) }));
    }
    expect((await getJson(gw.url + '/metrics')).body).toMatch(/certgate_ocsp_requests_total\{outcome="invalid"\} 3/);
  });

  it('unknown: failClosed refuses with certificate_status_unknown, failOpen lets in and logs', async () => {
    ocsp.routes.set('/unknown', byStatus());
    const leaf = await leafAt('agent-1', '/unknown', 'unknown');
    const gw = await gateway([identity('closed', ocspOn()), identity('open', ocspOn({}, 'failOpen'))]);
    const closed = await gw.login(leaf, 'closed');
    expect(closed.status).toBe(401);
    expect(closed.body.error).toBe('certificate_status_unknown');
    expect((await gw.login(leaf, 'open')).status).toBe(200);
    const warn = gw.logs.find((l) => l.event === 'revocation_unavailable' && l.identity === 'open')!;
    expect((warn.problems as string[]).join()).toMatch(/answered "unknown"/);
    expect((await getJson(gw.url + '/metrics')).body).toMatch(/certgate_revocation_checks_total\{identity="closed",outcome="unknown_refused"\} 1/);
  });

  it('responder down: failClosed refuses with revocation_unavailable, failOpen lets in; a failure is retried after the retry interval only', async () => {
    const down = `http://127.0.0.1:${await closedPort()}/down`;
    const leaf = await pki.leaf({ cn: 'agent-1', ocspUrl: down });
    const gw = await gateway([identity('closed', ocspOn()), identity('open', ocspOn({}, 'failOpen'))]);

    const closed = await gw.login(leaf, 'closed');
    expect(closed.status).toBe(401);
    expect(closed.body.error).toBe('revocation_unavailable');
    expect(closed.body.message).not.toContain(down);
    expect(gw.logs).toContainEqual(expect.objectContaining({ event: 'revocation_unavailable', identity: 'closed', policy: 'failClosed', level: 40 }));
    expect(gw.logs).toContainEqual(expect.objectContaining({ event: 'ocsp_request_failed', url: down }));

    expect((await gw.login(leaf, 'open')).status).toBe(200);
    const warn = gw.logs.find((l) => l.event === 'revocation_unavailable' && l.identity === 'open')!;
    expect((warn.problems as string[]).join()).toContain(`OCSP ${down}: `);
    // One attempt so far: the failure was remembered for the second login.
    expect(gw.logs.filter((l) => l.event === 'ocsp_request_failed')).toHaveLength(1);

    // Logs name responders and reasons, never certificate bytes.
    const b64 = Buffer.from(leaf.der).toString('base64').slice(0, 40);
    expect(gw.rawLogs.join('\n')).not.toContain(b64);
    expect(gw.rawLogs.join('\n')).not.toContain('BEGIN CERTIFICATE');
  });

  it('a flaky responder is asked again after the retry interval, not on every login', async () => {
    let fail = true;
    ocsp.routes.set('/flaky', (serial) => (fail ? { signer: pki.interA, ...fresh, responseStatus: 3 } : byStatus()(serial)));
    const leaf = await leafAt('agent-1', '/flaky');
    const gw = await gateway([identity('agents', ocspOn())]);
    expect((await gw.login(leaf, 'agents')).body.error).toBe('revocation_unavailable');
    expect((await gw.login(leaf, 'agents')).body.error).toBe('revocation_unavailable');
    expect(ocsp.hits('/flaky')).toBe(1);
    fail = false;
    gw.clock.advance(RETRY_MS + 1);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(ocsp.hits('/flaky')).toBe(2);
  });

  it('a stale answer (nextUpdate before the gateway clock) is unavailable; a stale "revoked" still refuses', async () => {
    ocsp.routes.set('/stale', byStatus({ thisUpdate: new Date(t0 - 3 * DAY), nextUpdate: new Date(t0 - DAY) }));
    const good = await leafAt('agent-1', '/stale');
    const bad = await leafAt('agent-2', '/stale', 'revoked');
    const gw = await gateway([identity('closed', ocspOn()), identity('open', ocspOn({}, 'failOpen'))]);
    expect((await gw.login(good, 'closed')).body.error).toBe('revocation_unavailable');
    expect((await gw.login(good, 'open')).status).toBe(200);
    expect((gw.logs.find((l) => l.identity === 'open' && l.event === 'revocation_unavailable')!.problems as string[]).join()).toMatch(/stale \(nextUpdate/);
    expect((await gw.login(bad, 'open')).body.error).toBe('certificate_revoked');
    // A stale answer is not asked for again on every login either.
    expect(ocsp.hits('/stale')).toBe(2);
  });

  it('an answer for another serial (wrong CertID) is unavailable', async () => {
    ocsp.routes.set('/wrong-id', byStatus({ wrongSerial: true }));
    const leaf = await leafAt('agent-1', '/wrong-id');
    const gw = await gateway([identity('closed', ocspOn()), identity('open', ocspOn({}, 'failOpen'))]);
    expect((await gw.login(leaf, 'closed')).body.error).toBe('revocation_unavailable');
    expect((await gw.login(leaf, 'open')).status).toBe(200);
    expect((gw.logs.find((l) => l.identity === 'open' && l.event === 'revocation_unavailable')!.problems as string[]).join()).toMatch(/CertID does not match/);
  });

  it('caches a verdict until its nextUpdate: many logins, one request; past nextUpdate, asked again', async () => {
    const nextUpdate = new Date(t0 + HOUR);
    ocsp.routes.set('/cache', byStatus({ nextUpdate }));
    const leaf = await leafAt('agent-1', '/cache');
    const gw = await gateway([identity('agents', ocspOn())]);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(ocsp.hits('/cache')).toBe(1);
    const many = await Promise.all(Array.from({ length: 5 }, () => gw.login(leaf, 'agents')));
    expect(many.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(ocsp.hits('/cache')).toBe(1);

    // The CA revokes the certificate; the cached answer stands until its nextUpdate.
    statuses.set(leaf.cert.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, ''), 'revoked');
    ocsp.routes.set('/cache', byStatus({ thisUpdate: new Date(t0 + HOUR), nextUpdate: new Date(t0 + 2 * HOUR) }));
    gw.clock.set(t0 + HOUR - 1000);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(ocsp.hits('/cache')).toBe(1);
    gw.clock.set(t0 + HOUR + 1000);
    expect((await gw.login(leaf, 'agents')).body.error).toBe('certificate_revoked');
    expect((await gw.login(leaf, 'agents')).body.error).toBe('certificate_revoked');
    expect(ocsp.hits('/cache')).toBe(2);
  });

  it('the configured responder overrides the certificate\'s AIA URL', async () => {
    ocsp.routes.set('/aia', byStatus({ status: 'revoked' }));
    ocsp.routes.set('/override', byStatus());
    const leaf = await leafAt('agent-1', '/aia');
    const gw = await gateway([identity('agents', ocspOn({ responder: ocsp.url('/override') }))]);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(ocsp.hits('/override')).toBe(1);
    expect(ocsp.hits('/aia')).toBe(0);
  });

  it('a leaf without an OCSP URL, and no responder configured, is unavailable', async () => {
    const leaf = await pki.leaf({ cn: 'agent-1' });
    const gw = await gateway([identity('closed', ocspOn()), identity('open', ocspOn({}, 'failOpen'))]);
    expect((await gw.login(leaf, 'closed')).body.error).toBe('revocation_unavailable');
    expect((await gw.login(leaf, 'open')).status).toBe(200);
    expect((gw.logs.find((l) => l.identity === 'open' && l.event === 'revocation_unavailable')!.problems as string[]).join()).toMatch(/names no OCSP responder/);
  });

  it('with CRLs and OCSP both configured, a revocation by either refuses', async () => {
    ocsp.routes.set('/both', byStatus());
    const crlListed = await leafAt('agent-1', '/both');
    const ocspRevoked = await leafAt('agent-2', '/both', 'revoked');
    const clean = await leafAt('agent-3', '/both');
    crls.files.set('/both.crl', await makeCrl(pki.interA, { revoked: [crlListed], thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + DAY) }));
    const gw = await gateway([identity('agents', { crl: { urls: [crls.url('/both.crl')] }, ocsp: { enabled: true } })]);
    expect((await gw.login(crlListed, 'agents')).body.error).toBe('certificate_revoked');
    expect((await gw.login(ocspRevoked, 'agents')).body.error).toBe('certificate_revoked');
    expect((await gw.login(clean, 'agents')).status).toBe(200);

    // The CRL server down: OCSP's "revoked" still refuses; a clean certificate is unavailable (failClosed).
    const down = `http://127.0.0.1:${await closedPort()}/down.crl`;
    const gw2 = await gateway([identity('agents', { crl: { urls: [down] }, ocsp: { enabled: true } })]);
    expect((await gw2.login(ocspRevoked, 'agents')).body.error).toBe('certificate_revoked');
    expect((await gw2.login(clean, 'agents')).body.error).toBe('revocation_unavailable');
  });
});
