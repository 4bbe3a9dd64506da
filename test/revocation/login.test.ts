import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getJson } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/launcher.js';
import { makeTestPki, type MintedCert, type TestPki } from '../helpers/pki.js';
import { revocationGateways } from '../helpers/revocation-gateway.js';
import { closedPort, DAY, HOUR, makeCrl, startCrlServer, type CrlServer } from './crl-fixtures.js';

/**
 * Revocation at login through the real HTTP stack: CRLs served by a node:http distribution point
 * on 127.0.0.1, fetched by the gateway over undici, judged against the gateway's ManualClock.
 */

const t0 = Date.now();
const RETRY_MS = 10_000;
let pki: TestPki;
let crls: CrlServer;

const gateways = revocationGateways({ t0, intermediate: () => pki.interA, start: { revocation: { retryMs: RETRY_MS, timeoutMs: 2000 } } });
const gateway = gateways.start;

/** An identity trusting root A (the intermediate comes with the certificate). */
const identity = (id: string, revocation: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id,
  caCertificate: pki.rootA.pem,
  allowedCommonNames: ['agent-*'],
  revocation,
  ...extra,
});

const leafWithCdp = (cn: string, ...cdp: string[]) => pki.leaf({ cn, crlDistributionPoints: cdp });
const fresh = (revoked: MintedCert[] = []) =>
  makeCrl(pki.interA, { revoked, thisUpdate: new Date(t0 - HOUR), nextUpdate: new Date(t0 + DAY) });

beforeAll(async () => {
  pki = await makeTestPki();
  crls = await startCrlServer();
});
afterEach(() => gateways.closeAll());
afterAll(async () => {
  await crls?.stop();
});

describe('CRL revocation at login', () => {
  it('lets an unlisted certificate in and refuses a listed one (fromCertificate)', async () => {
    const good = await leafWithCdp('agent-1', crls.url('/basic.crl'));
    const bad = await leafWithCdp('agent-2', crls.url('/basic.crl'));
    crls.files.set('/basic.crl', await fresh([bad]));
    const gw = await gateway([identity('agents', { crl: { fromCertificate: true } })]);

    const ok = await gw.login(good, 'agents');
    expect(ok.status).toBe(200);
    expect(typeof ok.body.accessToken).toBe('string');

    const no = await gw.login(bad, 'agents');
    expect(no.status).toBe(401);
    expect(no.body).toMatchObject({ statusCode: 401, error: 'certificate_revoked' });
    expect(gw.logs.find((l) => l.event === 'login' && l.outcome === 'refused')).toMatchObject({ reason: 'certificate_revoked' });

    const metrics = await getJson(gw.url + '/metrics');
    expect(metrics.body).toMatch(/certgate_revocation_checks_total\{identity="agents",outcome="revoked"\} 1/);
    expect(metrics.body).toMatch(/certgate_revocation_checks_total\{identity="agents",outcome="good"\} 1/);
  });

  it('fetches a CRL once for many logins, and again once the clock passes its nextUpdate', async () => {
    const leaf = await leafWithCdp('agent-1', crls.url('/cache.crl'));
    crls.files.set('/cache.crl', await fresh());
    const gw = await gateway([identity('agents', { crl: { fromCertificate: true } })]);

    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(crls.hits('/cache.crl')).toBe(1);
    // Concurrent logins share the cached copy too.
    const many = await Promise.all(Array.from({ length: 5 }, () => gw.login(leaf, 'agents')));
    expect(many.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(crls.hits('/cache.crl')).toBe(1);

    // The CA publishes a CRL listing the certificate; the cached one is still current.
    crls.files.set('/cache.crl', await makeCrl(pki.interA, { revoked: [leaf], thisUpdate: new Date(t0 + DAY - HOUR), nextUpdate: new Date(t0 + 3 * DAY) }));
    gw.clock.set(t0 + DAY - 1000);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(crls.hits('/cache.crl')).toBe(1);

    // Past the cached CRL's nextUpdate the gateway fetches the new one, and keeps it.
    gw.clock.set(t0 + DAY + 1000);
    expect((await gw.login(leaf, 'agents')).body.error).toBe('certificate_revoked');
    expect(crls.hits('/cache.crl')).toBe(2);
    expect((await gw.login(leaf, 'agents')).body.error).toBe('certificate_revoked');
    expect(crls.hits('/cache.crl')).toBe(2);
  });

  it('CRL server down: failClosed refuses with revocation_unavailable, failOpen lets in and logs why', async () => {
    const down = `http://127.0.0.1:${await closedPort()}/down.crl`;
    const leaf = await leafWithCdp('agent-1', down);
    const gw = await gateway([
      identity('closed', { crl: { fromCertificate: true }, onUnavailable: 'failClosed' }),
      identity('open', { crl: { fromCertificate: true }, onUnavailable: 'failOpen' }),
    ]);

    const closed = await gw.login(leaf, 'closed');
    expect(closed.status).toBe(401);
    expect(closed.body.error).toBe('revocation_unavailable');
    // Which CRL failed, and why, is for the operator's log, not the client.
    expect(closed.body.message).not.toContain(down);
    expect(gw.logs).toContainEqual(expect.objectContaining({ event: 'revocation_unavailable', identity: 'closed', policy: 'failClosed', level: 40 }));
    expect(JSON.stringify(gw.logs.filter((l) => l.identity === 'closed' && l.event === 'revocation_unavailable'))).toContain(down);

    const open = await gw.login(leaf, 'open');
    expect(open.status).toBe(200);
    const warn = gw.logs.find((l) => l.event === 'revocation_unavailable' && l.identity === 'open')!;
    expect(warn).toMatchObject({ level: 40, policy: 'failOpen', outcome: 'allowed' });
    expect((warn.problems as string[]).join('\n')).toContain(`CRL ${down} could not be loaded`);
    expect(gw.logs).toContainEqual(expect.objectContaining({ event: 'crl_fetch_failed', url: down }));

    // Logs name CRLs and reasons, never certificate bytes.
    const b64 = Buffer.from(leaf.der).toString('base64').slice(0, 40);
    expect(gw.rawLogs.join('\n')).not.toContain(b64);
    expect(gw.rawLogs.join('\n')).not.toContain('BEGIN CERTIFICATE');
  });

  it('a stale CRL (nextUpdate before the gateway clock): failClosed refuses, failOpen passes but still honours its entries', async () => {
    const good = await leafWithCdp('agent-1', crls.url('/stale.crl'));
    const bad = await leafWithCdp('agent-2', crls.url('/stale.crl'));
    crls.files.set('/stale.crl', await makeCrl(pki.interA, { revoked: [bad], thisUpdate: new Date(t0 - 3 * DAY), nextUpdate: new Date(t0 - DAY) }));
    const gw = await gateway([
      identity('closed', { crl: { fromCertificate: true } }),
      identity('open', { crl: { fromCertificate: true }, onUnavailable: 'failOpen' }),
    ]);
    expect((await gw.login(good, 'closed')).body.error).toBe('revocation_unavailable');
    expect((await gw.login(good, 'open')).status).toBe(200);
    expect((gw.logs.find((l) => l.identity === 'open' && l.event === 'revocation_unavailable')!.problems as string[]).join()).toMatch(/stale/);
    expect((await gw.login(bad, 'open')).body.error).toBe('certificate_revoked');
    // A stale CRL is not refetched on every login either.
    expect(crls.hits('/stale.crl')).toBe(1);
  });

  it('a CRL without nextUpdate stops counting 24 h after its thisUpdate, even as the last good copy while its server is blocked', async () => {
    const leaf = await leafWithCdp('agent-1', crls.url('/no-next.crl'));
    crls.files.set('/no-next.crl', await makeCrl(pki.interA, { thisUpdate: new Date(t0 - HOUR), nextUpdate: null }));
    const gw = await gateway([identity('agents', { crl: { fromCertificate: true } })]);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    // The distribution point is blocked from now on: the cached copy is all the gateway has.
    crls.handlers.set('/no-next.crl', (_req, res) => void res.writeHead(503).end());
    gw.clock.set(t0 + DAY - HOUR - 1000);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    gw.clock.set(t0 + DAY - HOUR + 1000);
    const refused = await gw.login(leaf, 'agents');
    expect(refused.body.error).toBe('revocation_unavailable');
    expect(JSON.stringify(gw.logs.filter((l) => l.event === 'revocation_unavailable'))).toMatch(/no nextUpdate/);
    crls.handlers.delete('/no-next.crl');
  });

  it('an unreachable CRL is retried after the retry interval, not on every login', async () => {
    const leaf = await leafWithCdp('agent-1', crls.url('/flaky.crl'));
    crls.handlers.set('/flaky.crl', (_req, res) => void res.writeHead(503).end());
    const gw = await gateway([identity('agents', { crl: { fromCertificate: true } })]);
    expect((await gw.login(leaf, 'agents')).body.error).toBe('revocation_unavailable');
    expect((await gw.login(leaf, 'agents')).body.error).toBe('revocation_unavailable');
    expect(crls.hits('/flaky.crl')).toBe(1);

    crls.handlers.delete('/flaky.crl');
    crls.files.set('/flaky.crl', await fresh());
    gw.clock.advance(RETRY_MS + 1);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(crls.hits('/flaky.crl')).toBe(2);
  });

  it('crl.files, resolved against the config directory and re-read when the file changes', async () => {
    const dir = makeTempDir();
    mkdirSync(join(dir, 'crls'));
    const good = await pki.leaf({ cn: 'agent-1' });
    const bad = await pki.leaf({ cn: 'agent-2' });
    writeFileSync(join(dir, 'crls', 'int.crl'), await fresh([bad]));
    const gw = await gateway([identity('agents', { crl: { files: ['crls/int.crl'] } })], dir);

    expect((await gw.login(good, 'agents')).status).toBe(200);
    expect((await gw.login(bad, 'agents')).body.error).toBe('certificate_revoked');

    // A new CRL listing both (a different size and mtime) is picked up without a restart.
    writeFileSync(join(dir, 'crls', 'int.crl'), await fresh([bad, good]));
    expect((await gw.login(good, 'agents')).body.error).toBe('certificate_revoked');
  });

  it('crl.urls, for certificates without distribution points', async () => {
    const good = await pki.leaf({ cn: 'agent-1' });
    const bad = await pki.leaf({ cn: 'agent-2' });
    crls.files.set('/urls.crl', await fresh([bad]));
    const gw = await gateway([identity('agents', { crl: { urls: [crls.url('/urls.crl')] } })]);
    expect((await gw.login(good, 'agents')).status).toBe(200);
    expect((await gw.login(bad, 'agents')).body).toMatchObject({ statusCode: 401, error: 'certificate_revoked' });
    expect(crls.hits('/urls.crl')).toBe(1);
  });

  it('a leaf with no CRL under a failClosed identity is refused (no coverage)', async () => {
    const leaf = await pki.leaf({ cn: 'agent-1' });
    const gw = await gateway([identity('agents', { crl: { fromCertificate: true } })]);
    expect((await gw.login(leaf, 'agents')).body.error).toBe('revocation_unavailable');
  });

  it('without identityId, a revoked certificate reports certificate_revoked (the deepest refusal)', async () => {
    const bad = await leafWithCdp('agent-2', crls.url('/deep.crl'));
    crls.files.set('/deep.crl', await fresh([bad]));
    const gw = await gateway([
      identity('others', { crl: { fromCertificate: true } }, { allowedCommonNames: ['someone-else'] }),
      identity('agents', { crl: { fromCertificate: true } }),
      // Satisfied too, but checks no revocation: a revoked certificate still does not get in.
      { id: 'lenient', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] },
    ]);
    const r = await gw.login(bad);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('certificate_revoked');
  });

  it('identities without a revocation block do not fetch anything', async () => {
    const leaf = await leafWithCdp('agent-1', crls.url('/unused.crl'));
    const gw = await gateway([{ id: 'agents', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] }]);
    expect((await gw.login(leaf, 'agents')).status).toBe(200);
    expect(crls.hits('/unused.crl')).toBe(0);
  });
});
