/**
 * Issue 7, defect 7: a call answered 503 because Redis stalled past the command timeout must not
 * spend a use when Redis resumes and finally runs the queued consume scripts (they carry a deadline
 * in Redis time and refuse past it). Real redis-server, stalled with SIGSTOP while calls are in
 * flight; afterwards the uses left are exactly the limit minus the calls that were answered 2xx.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

const LIMIT = 50;
/** Generous: a loaded machine must not turn the answered calls before the stall into 503s. */
const TIMEOUT_MS = 1000;

describe('uses when Redis stalls under consuming calls', () => {
  let redis: RedisServer;
  let raw: Redis;
  let store: RedisTokenStore;
  let gw: TestGateway;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    redis = await startRedis();
    raw = new Redis(redis.url);
    store = new RedisTokenStore({ url: redis.url, commandTimeoutMs: TIMEOUT_MS, connectTimeoutMs: TIMEOUT_MS });
    gw = await startTestGateway(
      {
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem, accessTokenNumUsesLimit: LIMIT }],
      },
      { store },
    );
  });
  afterAll(async () => {
    redis?.process.signal('SIGCONT');
    raw?.disconnect();
    await gw?.close();
    await redis?.stop();
  });

  const forward = async (token: string) => {
    const r = await fetch(`${gw.url}/api/v1/auth/forward`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, error: r.status === 204 ? undefined : ((await r.json()) as { error: string }).error };
  };

  /** Uses left as Redis holds them, read once every command sent before has been processed. */
  const usesLeft = async (token: string) => {
    await store.ping(); // queued behind the stalled commands on the gateway's connection
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    return Number(await raw.hget(store.keys.token('agents', jti), 'usesRemaining'));
  };

  const login = async () => {
    const res = await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    expect(res.status).toBe(200);
    const token = res.body.accessToken as string;
    // One answered call first: the token's fixed fields are cached, later calls are one script each.
    expect((await forward(token)).status).toBe(204);
    return token;
  };

  const stallWhile = async (calls: () => Promise<Array<{ status: number; error?: string }>>) => {
    try {
      return await calls();
    } finally {
      redis.process.signal('SIGCONT');
    }
  };

  it('10 calls in flight when Redis stops: all answered 503, none spends a use after it resumes', async () => {
    const token = await login();
    const results = await stallWhile(async () => {
      redis.process.signal('SIGSTOP');
      return Promise.all(Array.from({ length: 10 }, () => forward(token)));
    });
    expect(results).toEqual(Array.from({ length: 10 }, () => ({ status: 503, error: 'store_unavailable' })));
    expect(await usesLeft(token)).toBe(LIMIT - 1);
  });

  it('a stall in the middle of 10 calls: uses left = limit − calls answered 2xx, exactly', async () => {
    const token = await login();
    // Five answered before Redis stops, five sent while it is stopped. (A call whose script runs in
    // the instant before the stop but whose reply Redis had not yet sent is the residual the README
    // leaves open: its reply comes after the gateway answered 503. It cannot be staged on purpose,
    // so it is not staged here.)
    const before = await Promise.all(Array.from({ length: 5 }, () => forward(token)));
    const results = await stallWhile(async () => {
      redis.process.signal('SIGSTOP');
      return Promise.all(Array.from({ length: 5 }, () => forward(token)));
    });
    expect(before.map((r) => r.status)).toEqual([204, 204, 204, 204, 204]);
    expect(results).toEqual(Array.from({ length: 5 }, () => ({ status: 503, error: 'store_unavailable' })));
    expect(await usesLeft(token)).toBe(LIMIT - 1 - 5);
  });
});
