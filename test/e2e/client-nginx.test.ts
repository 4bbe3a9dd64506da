/**
 * certgate/client through real nginx (proxy-configs/nginx) and directly, with short TTLs
 * (accessTokenTTL 2 s, accessTokenMaxTTL 4 s) so that renewals and re-logins happen inside the
 * test while a workload keeps calling: every call must succeed, on a token the client keeps current.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertgateClient, type ClientEvent } from '../../src/client/index.js';
import { jwtPayload, startClientGateway, type ClientCredsFiles, type ClientGateway } from '../helpers/client-gateway.js';

const SELF = '/api/v1/auth/token/self';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CertgateClient with short-lived tokens, behind nginx and directly', () => {
  let gw: ClientGateway;
  let agent1: ClientCredsFiles;

  beforeAll(async () => {
    gw = await startClientGateway({ nginx: true, accessTokenTTL: 2, accessTokenMaxTTL: 4 });
    agent1 = await gw.creds('agent-1');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const via = () => ({ nginx: gw.nginx!.url, direct: gw.tlsUrl });

  describe.each(['nginx', 'direct'] as const)('%s', (where) => {
    it('keeps a workload calling for 6 s: renews, then logs in again at the max TTL', async () => {
      const events: ClientEvent[] = [];
      const c = new CertgateClient({ url: via()[where], cert: agent1.cert, key: agent1.key, ca: gw.ca, identityId: 'agents', onEvent: (e) => events.push(e) });
      const jtis = new Set<unknown>();
      try {
        const end = Date.now() + 6000;
        while (Date.now() < end) {
          const res = await c.fetch(SELF);
          expect(res.status, await res.clone().text()).toBe(200);
          await res.body?.cancel();
          jtis.add(jwtPayload(await c.token()).jti);
          await sleep(200);
        }
      } finally {
        await c.close();
      }
      const types = events.map((e) => e.type);
      expect(types).toContain('renew');
      // Max TTL 4 s: within 6 s a second login (a new jti) must have happened.
      expect(types.filter((t) => t === 'login').length).toBeGreaterThanOrEqual(2);
      expect(jtis.size).toBeGreaterThanOrEqual(2);
      expect(types).not.toContain('error');
    });

    it('20 concurrent callers on a fresh client: exactly one login at the gateway', async () => {
      const c = new CertgateClient({ url: via()[where], cert: agent1.cert, key: agent1.key, ca: gw.ca });
      try {
        const before = gw.auditCount('login');
        const tokens = await Promise.all(Array.from({ length: 20 }, () => c.token()));
        expect(new Set(tokens).size).toBe(1);
        await expect.poll(() => gw.auditCount('login')).toBe(before + 1);
        await sleep(200); // nothing else is in flight: the count stays
        expect(gw.auditCount('login')).toBe(before + 1);
      } finally {
        await c.close();
      }
    });

    it('a 503 during the outage is retried until the store is back', async () => {
      const events: ClientEvent[] = [];
      const c = new CertgateClient({
        url: via()[where],
        cert: agent1.cert,
        key: agent1.key,
        ca: gw.ca,
        onEvent: (e) => events.push(e),
        // The backoff's wait is where the outage ends: redis comes back, the gateway reconnects.
        sleep: async () => {
          await gw.redis.process.restart();
          await expect.poll(async () => (await fetch(`${gw.certgate.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
        },
      });
      try {
        await gw.redis.process.stop();
        await expect.poll(async () => (await fetch(`${gw.certgate.url}/readyz`)).status, { timeout: 15_000 }).toBe(503);
        expect(jwtPayload(await c.token()).sub).toBe('agents');
        expect(events.map((e) => e.type)).toEqual(['retry', 'login']);
        expect(events[0]).toMatchObject({ operation: 'login', reason: expect.stringContaining('503 store_unavailable') });
      } finally {
        await c.close();
      }
    });
  });
});
