/**
 * The fleet promises on a highly available Redis (Sentinel or Cluster), with TWO compiled gateway
 * processes sharing it and `store.waitReplicas: 1` (plus a third with the default configuration,
 * called through the failover): exact uses under racing calls, revoke and
 * revoke-all across gateways, WAIT refusing while the replica does not acknowledge, and a master
 * SIGKILLed while calls run — the replica is promoted and service resumes with no gateway restart,
 * no call answered 204 beyond the uses, and nothing but 503 store_unavailable in between.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/store/redis-keys.js';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTempDir, waitUntil, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

export interface HaBackend {
  /** The `store:` section pointing at it (cluster or sentinel). */
  store: Record<string, unknown>;
  /** The node that is master for `key` now. */
  masterFor(key: string): Promise<RedisServer>;
  /** A replica of `master` now. */
  replicaOf(master: RedisServer): Promise<RedisServer>;
  /** Starts a killed former master again (empty) and lets it become the new master's replica. */
  rejoin(former: RedisServer): Promise<void>;
  stop(): Promise<void>;
}

const ADMIN = 'admin-secret-0123456789';
const USES = 5;
/** Uses of the token spent across the failover (enough to outlast it at the pace below). */
const FAILOVER_USES = 150;
/** The feature's bound: a failover (detection + promotion + the old master back as replica). */
const FAILOVER_BOUND_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  error?: string;
}

export function haFleetSuite(label: string, startBackend: () => Promise<HaBackend>): void {
  describe(`two gateways on ${label}`, () => {
    let backend: HaBackend;
    let a: CertgateProcess;
    let b: CertgateProcess;
    /** The default configuration (no waitReplicas), with unlimited tokens for the failover identity. */
    let c: CertgateProcess;
    let header: string;

    beforeAll(async () => {
      const pki = await makeTestPki();
      header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
      backend = await startBackend();
      const dir = makeTempDir('certgate-ha-');
      const config = {
        store: { ...backend.store, waitReplicas: 1 },
        server: { storeTimeoutMs: 1000 },
        log: { level: 'warn' },
        admin: { tokens: [ADMIN] },
        limits: { loginsPerIpPerMinute: 0, loginsPerIdentityPerMinute: 0 },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [
          { id: 'limited', caCertificate: pki.rootA.pem, accessTokenNumUsesLimit: USES },
          { id: 'failover', caCertificate: pki.rootA.pem, accessTokenNumUsesLimit: FAILOVER_USES },
        ],
      };
      // Same keys directory: the second gateway loads the key the first generated.
      a = await startCertgate({ config, dir });
      b = await startCertgate({ config, dir });
      c = await startCertgate({
        config: { ...config, store: backend.store, identities: [{ id: 'failover', caCertificate: pki.rootA.pem }] },
        dir: makeTempDir('certgate-ha-default-'),
      });
    }, 120_000);
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await c?.stop();
      await backend?.stop();
    });

    const login = async (gw: CertgateProcess, identityId: string) => {
      const res = await postJson(gw.url + LOGIN_PATH, { identityId }, { 'x-ssl-client-cert': header });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.accessToken as string;
    };
    const forward = async (gw: CertgateProcess, token: string): Promise<Answer> => {
      const r = await fetch(`${gw.url}/api/v1/auth/forward`, { headers: { authorization: `Bearer ${token}` } });
      if (r.status === 204) return { status: 204 };
      return { status: r.status, error: ((await r.json()) as { error: string }).error };
    };
    const usesRemaining = async (gw: CertgateProcess, token: string) =>
      (await getJson(`${gw.url}/api/v1/auth/token/self`, { authorization: `Bearer ${token}` })).body.usesRemaining as number;
    /** The Redis key of a token's record (its identity and jti, read from the JWT): its shard's slot. */
    const tokenKey = (token: string) => {
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; jti: string };
      return redisKeys().token(claims.sub, claims.jti);
    };

    it(`allows exactly ${USES} of ${20 * USES} concurrent calls spread over both gateways`, async () => {
      const token = await login(a, 'limited');
      const results = await Promise.all(Array.from({ length: 20 * USES }, (_, i) => forward(i % 2 ? a : b, token)));
      expect(results.filter((r) => r.status === 204)).toHaveLength(USES);
      expect(results.filter((r) => r.status !== 204).every((r) => r.status === 401 && r.error === 'token_uses_exhausted')).toBe(true);
    });

    it('a revoke on one gateway is refused on the other at once', async () => {
      const token = await login(a, 'limited');
      expect((await getJson(`${b.url}/api/v1/auth/token/self`, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await postJson(`${a.url}/api/v1/auth/token/revoke`, { accessToken: token })).status).toBe(200);
      expect(await forward(b, token)).toEqual({ status: 401, error: 'token_revoked' });
    });

    it('a revoke-all on one gateway covers tokens issued on the other', async () => {
      const token = await login(b, 'limited');
      const res = await postJson(`${a.url}/api/v1/admin/identities/limited/revoke-tokens`, {}, { authorization: `Bearer ${ADMIN}` });
      expect(res.status).toBe(200);
      expect(await forward(b, token)).toEqual({ status: 401, error: 'token_revoked' });
      expect(await forward(a, token)).toEqual({ status: 401, error: 'token_revoked' });
    });

    it('waitReplicas: 1 refuses a call 503 while the replica does not acknowledge; the use is spent', async () => {
      const token = await login(a, 'limited');
      const replica = await backend.replicaOf(await backend.masterFor(tokenKey(token)));
      replica.process.signal('SIGSTOP');
      try {
        expect(await forward(a, token)).toEqual({ status: 503, error: 'store_unavailable' });
      } finally {
        replica.process.signal('SIGCONT');
      }
      expect(await forward(b, token)).toEqual({ status: 204 });
      // The refused call took its use on the master (it may not have reached the replica): fail closed.
      expect(await usesRemaining(a, token)).toBe(USES - 2);
    });

    it('a master killed while calls run: the replica takes over, no gateway restart, no use answered twice', async () => {
      const token = await login(a, 'failover');
      const master = await backend.masterFor(tokenKey(token));
      // The tokens of one identity are spread over the masters: log in on c until its token's
      // shard is on the same master, so the kill interrupts both.
      let unlimited = await login(c, 'failover');
      for (let i = 0; i < 40 && (await backend.masterFor(tokenKey(unlimited))) !== master; i++) unlimited = await login(c, 'failover');
      expect(await backend.masterFor(tokenKey(unlimited))).toBe(master);
      type Timed = Answer & { afterKill: boolean; at: number };
      const answers: Timed[] = [];
      const answersC: Timed[] = [];
      let killedAt = 0;
      let stop = false;
      // Two callers, each alternating gateways, paced so the uses outlast the failover; a third on
      // the gateway with the default configuration (no WAIT), same identity, so the same master.
      const caller = async (n: number) => {
        for (let i = 0; !stop; i++) {
          const startedAfterKill = killedAt > 0;
          const r = n === 2 ? await forward(c, unlimited) : await forward((i + n) % 2 ? a : b, token);
          (n === 2 ? answersC : answers).push({ ...r, afterKill: startedAfterKill, at: Date.now() });
          await sleep(50);
        }
      };
      const callers = [caller(0), caller(1), caller(2)];
      await sleep(300);
      killedAt = Date.now();
      await master.kill();
      try {
        // The promoted replica answers for the slot; the old master comes back empty and becomes
        // its replica, so WAIT 1 can be met again (with one replica per master nothing else could).
        await waitUntil('a replica is promoted', async () => (await backend.masterFor(tokenKey(token))) !== master, FAILOVER_BOUND_MS);
        await backend.rejoin(master);
        await waitUntil(
          'calls succeed again',
          async () => answers.some((x) => x.afterKill && x.status === 204) && answersC.some((x) => x.afterKill && x.status === 204),
          FAILOVER_BOUND_MS,
        );
      } finally {
        stop = true;
        await Promise.all(callers);
      }
      const backAt = answers.find((x) => x.afterKill && x.status === 204)!.at;
      expect(backAt - killedAt).toBeLessThan(FAILOVER_BOUND_MS);
      // Between: refusals are 503 store_unavailable only — never a 500, never another code.
      const refused = answers.filter((x) => x.status !== 204);
      expect(refused.every((x) => x.status === 503 && x.error === 'store_unavailable'), JSON.stringify(refused.slice(0, 5))).toBe(true);
      expect(answers.some((x) => x.status === 503)).toBe(true);
      // The same without waitReplicas: back without a restart, 503 store_unavailable meanwhile.
      const backAtC = answersC.find((x) => x.afterKill && x.status === 204)!.at;
      expect(backAtC - killedAt).toBeLessThan(FAILOVER_BOUND_MS);
      const refusedC = answersC.filter((x) => x.status !== 204);
      expect(refusedC.every((x) => x.status === 503 && x.error === 'store_unavailable'), JSON.stringify(refusedC.slice(0, 5))).toBe(true);
      expect(refusedC.length).toBeGreaterThan(0);

      // Spend what is left, racing on both gateways: over the whole run, never more 204s than uses.
      let exhausted = false;
      for (let round = 0; round < 20 && !exhausted; round++) {
        const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => forward(i % 2 ? a : b, token)));
        answers.push(...burst.map((r) => ({ ...r, afterKill: true, at: Date.now() })));
        // A 503 under load is allowed (fail closed); anything else but a use or "exhausted" is not.
        const allowed = (r: Answer) => r.status === 204 || (r.status === 401 && r.error === 'token_uses_exhausted') || (r.status === 503 && r.error === 'store_unavailable');
        expect(burst.every(allowed), JSON.stringify(burst.filter((r) => !allowed(r)).slice(0, 5))).toBe(true);
        exhausted = burst.some((r) => r.status === 401);
      }
      expect(exhausted).toBe(true);
      expect(answers.filter((x) => x.status === 204).length).toBeLessThanOrEqual(FAILOVER_USES);
      expect(await forward(a, token)).toEqual({ status: 401, error: 'token_uses_exhausted' });
      console.info(`[${label}] failover: service back ${backAt - killedAt} ms after the kill (${backAtC - killedAt} ms without waitReplicas); ${refused.length} + ${refusedC.length} calls refused 503 meanwhile`);
    }, 90_000);
  });
}
