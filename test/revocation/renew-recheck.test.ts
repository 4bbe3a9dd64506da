import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson } from '../helpers/gateway.js';
import { makeTestPki, type MintedCert, type TestPki } from '../helpers/pki.js';
import { revocationGateways, type RevocationGateway } from '../helpers/revocation-gateway.js';
import { DAY, HOUR, makeCrl, startCrlServer, type CrlServer } from './crl-fixtures.js';
import { startOcspResponder, type OcspAnswer, type OcspResponder } from './ocsp-fixtures.js';

/**
 * Revocation after login, in one process with a ManualClock and the background refresh driven by
 * hand (crlWatchIntervalMs: 0, gateway.crlWatcher.tick()): renew re-checks CRL and OCSP with the
 * path the login kept in the store; a CRL or OCSP answer that shows a certificate revoked kills
 * every token of it; the refresh fetches a CRL URL again at its nextUpdate, not before.
 */
const t0 = Date.now();
let pki: TestPki;
let crls: CrlServer;
let ocsp: OcspResponder;
const gateways = revocationGateways({ t0, intermediate: () => pki.interA, start: { crlWatchIntervalMs: 0, revocation: { retryMs: 10_000, timeoutMs: 2000 } } });
const gateway = gateways.start;

/** Long-lived tokens: the clock moves past CRL and OCSP nextUpdates while they live. */
const LONG = { accessTokenTTL: 3 * 86_400, accessTokenMaxTTL: 6 * 86_400 };
const identity = (id: string, revocation?: Record<string, unknown>) => ({ id, caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'], ...LONG, ...(revocation ? { revocation } : {}) });
const crlListing = (revoked: MintedCert[], from = t0) => makeCrl(pki.interA, { revoked, thisUpdate: new Date(from - HOUR), nextUpdate: new Date(from + DAY) });
const renew = (g: RevocationGateway, accessToken: string) => postJson(`${g.url}/api/v1/auth/token/renew`, { accessToken });
const call = async (g: RevocationGateway, t: string) => {
  const r = await getJson(`${g.url}/api/v1/auth/forward`, { authorization: `Bearer ${t}` });
  return r.status === 204 ? 'ok' : `${r.status} ${r.body.error}`;
};
const token = async (g: RevocationGateway, leaf: MintedCert, identityId: string) => {
  const r = await g.login(leaf, identityId);
  expect(r.status).toBe(200);
  return r.body.accessToken as string;
};

beforeAll(async () => {
  pki = await makeTestPki();
  crls = await startCrlServer();
  ocsp = await startOcspResponder();
});
afterEach(() => gateways.closeAll());
afterAll(async () => {
  await crls?.stop();
  await ocsp?.stop();
});

describe('renew re-checks revocation', () => {
  it('CRL: a certificate listed since its login cannot renew, and all its tokens die', async () => {
    crls.files.set('/renew.crl', await crlListing([]));
    const leaf = await pki.leaf({ cn: 'agent-renew' });
    const g = await gateway([identity('agents', { crl: { urls: [crls.url('/renew.crl')] } }), identity('plain')]);
    const t = await token(g, leaf, 'agents');
    const other = await token(g, leaf, 'plain');
    // The CA publishes a CRL listing it; the cached one stays current until its nextUpdate.
    crls.files.set('/renew.crl', await crlListing([leaf], t0 + DAY));
    expect((await renew(g, t)).status).toBe(200);
    g.clock.advance(DAY + 1000);
    const refused = await renew(g, t);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('certificate_revoked');
    // Every token of the certificate, whatever its identity, and its logins under any identity.
    expect([await call(g, t), await call(g, other)]).toEqual(['401 token_revoked', '401 token_revoked']);
    expect((await g.login(leaf, 'plain')).body.error).toBe('certificate_revoked');
    expect(g.logs.find((l) => l.event === 'renew' && l.outcome === 'refused')).toMatchObject({ reason: 'certificate_revoked' });
    expect(g.logs.find((l) => l.event === 'certificate_revoked')).toMatchObject({ audit: true, source: 'crl', tokens: 2, serial: leaf.cert.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, '') });
  });

  it('CRL unavailable at renew: failClosed refuses with revocation_unavailable', async () => {
    crls.files.set('/gone.crl', await crlListing([]));
    const leaf = await pki.leaf({ cn: 'agent-gone' });
    const g = await gateway([identity('agents', { crl: { urls: [crls.url('/gone.crl')] } })]);
    const t = await token(g, leaf, 'agents');
    crls.files.delete('/gone.crl');
    g.clock.advance(DAY + 1000);
    const refused = await renew(g, t);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('revocation_unavailable');
    // Not revoked: only its renewal waits for a current CRL.
    expect(await call(g, t)).toBe('ok');
  });

  it('OCSP: an answer that turns to revoked refuses the renew and kills the tokens', async () => {
    const statuses = new Map<string, 'good' | 'revoked'>();
    ocsp.routes.set('/renew', (serial): OcspAnswer => ({ signer: pki.interA, status: statuses.get(serial) ?? 'good', thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + HOUR) }));
    const leaf = await pki.leaf({ cn: 'agent-ocsp', ocspUrl: ocsp.url('/renew') });
    const g = await gateway([identity('agents', { ocsp: { enabled: true } }), identity('plain')]);
    const t = await token(g, leaf, 'agents');
    const other = await token(g, leaf, 'plain');
    statuses.set(leaf.cert.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, ''), 'revoked');
    g.clock.advance(HOUR + 1000); // past the cached answer's nextUpdate
    const refused = await renew(g, t);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('certificate_revoked');
    expect([await call(g, t), await call(g, other)]).toEqual(['401 token_revoked', '401 token_revoked']);
    expect(g.logs.find((l) => l.event === 'certificate_revoked')).toMatchObject({ source: 'ocsp', tokens: 2 });
  });
});

describe('a revocation found at login kills the certificate\'s earlier tokens', () => {
  it('a CRL that lists the certificate at a login under one identity kills its tokens of the others', async () => {
    crls.files.set('/login.crl', await crlListing([]));
    const leaf = await pki.leaf({ cn: 'agent-login' });
    const g = await gateway([identity('agents', { crl: { urls: [crls.url('/login.crl')] } }), identity('plain')]);
    const other = await token(g, leaf, 'plain');
    crls.files.set('/login.crl', await crlListing([leaf], t0 + DAY));
    g.clock.advance(DAY + 1000);
    expect((await g.login(leaf, 'agents')).body.error).toBe('certificate_revoked');
    expect(await call(g, other)).toBe('401 token_revoked');
  });

  it('an OCSP answer revoked at a login kills the certificate\'s tokens of other identities', async () => {
    const statuses = new Map<string, 'good' | 'revoked'>();
    ocsp.routes.set('/login', (serial): OcspAnswer => ({ signer: pki.interA, status: statuses.get(serial) ?? 'good', thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + HOUR) }));
    const leaf = await pki.leaf({ cn: 'agent-ocsp-login', ocspUrl: ocsp.url('/login') });
    const g = await gateway([identity('agents', { ocsp: { enabled: true } }), identity('plain')]);
    const other = await token(g, leaf, 'plain');
    statuses.set(leaf.cert.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, ''), 'revoked');
    expect((await g.login(leaf, 'agents')).body.error).toBe('certificate_revoked');
    expect(await call(g, other)).toBe('401 token_revoked');
    expect(g.logs.find((l) => l.event === 'certificate_revoked')).toMatchObject({ source: 'ocsp', tokens: 1 });
  });
});

describe('background CRL refresh', () => {
  it.each([
    ['a configured URL', false],
    ['a distribution point of a certificate seen at login (fromCertificate)', true],
  ])('fetches %s again at its nextUpdate, not before, and then kills the tokens of a newly listed certificate', async (_what, fromCertificate) => {
    const path = fromCertificate ? '/bg-cdp.crl' : '/bg.crl';
    crls.files.set(path, await crlListing([]));
    const leaf = await pki.leaf({ cn: 'agent-bg', ...(fromCertificate ? { crlDistributionPoints: [crls.url(path)] } : {}) });
    const g = await gateway([identity('agents', { crl: fromCertificate ? { fromCertificate: true } : { urls: [crls.url(path)] } })]);
    const t = await token(g, leaf, 'agents');
    const hits = crls.hits(path);
    crls.files.set(path, await crlListing([leaf], t0 + DAY));
    await g.gateway.crlWatcher.tick();
    expect(crls.hits(path)).toBe(hits);
    expect(await call(g, t)).toBe('ok');
    g.clock.advance(DAY + 1000);
    await g.gateway.crlWatcher.tick();
    expect(crls.hits(path)).toBe(hits + 1);
    expect(await call(g, t)).toBe('401 token_revoked');
    expect(g.logs.find((l) => l.event === 'crl_refreshed' && l.newEntries === 1)).toMatchObject({ identity: 'agents', revokedTokens: 1 });
  });

  it('ignores a CRL signed by a key that is not its issuer\'s', async () => {
    const forged = await makeCrl(pki.interA, { revoked: [], thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + DAY) });
    crls.files.set('/forged.crl', forged);
    const leaf = await pki.leaf({ cn: 'agent-forged' });
    const g = await gateway([identity('agents', { crl: { urls: [crls.url('/forged.crl')] }, onUnavailable: 'failOpen' })]);
    const t = await token(g, leaf, 'agents');
    // Same issuer name, another key (rogue signs under interA's subject).
    const impostor = { ...pki.interA, keys: pki.rogue.keys };
    crls.files.set('/forged.crl', await makeCrl(impostor, { revoked: [leaf], thisUpdate: new Date(t0), nextUpdate: new Date(t0 + 2 * DAY) }));
    g.clock.advance(DAY + 1000);
    await g.gateway.crlWatcher.tick();
    expect(await call(g, t)).toBe('ok');
    expect(g.logs.find((l) => l.event === 'crl_refresh_unverified')).toMatchObject({ identity: 'agents' });
  });
});
