/**
 * One identity's tokens on a real 3-master Redis Cluster (with replicas): they spread over every
 * master (counted per master with INFO commandstats), and what the sharded layout must keep exact
 * — uses, the quota, the folded login rate, revoke-all — holds with two store clients racing.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenStore } from '../../src/store/redis.js';
import type { TokenRecord } from '../../src/store/types.js';
import { startRedisCluster, type RedisClusterSet } from '../helpers/launcher.js';
import { T0, limited, makeRecord } from './fixtures.js';

const TOKENS = 300;
let cluster: RedisClusterSet;
/** One plain client per master, to read its command counters. */
let masters: Redis[];
/** Two gateways' stores; `a` waits for a replica on every write (store.waitReplicas: 1). */
let a: RedisTokenStore;
let b: RedisTokenStore;

beforeAll(async () => {
  // A slow failover: one test stops a master for a moment and it must stay master.
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 15_000 });
  // startRedisCluster makes the first `masters` nodes the masters.
  masters = cluster.nodes.slice(0, 3).map((n) => new Redis(n.url));
  a = new RedisTokenStore({ cluster: cluster.urls, waitReplicas: 1 });
  b = new RedisTokenStore({ cluster: cluster.urls });
  await Promise.all([a.ping(), b.ping()]);
}, 60_000);
afterAll(async () => {
  for (const m of masters ?? []) m.disconnect();
  await Promise.all([a?.close(), b?.close()]);
  await cluster?.stop();
});

/** Scripts (EVAL + EVALSHA) each master has run since the last reset. */
async function scriptsPerMaster(): Promise<number[]> {
  return Promise.all(
    masters.map(async (m) => {
      const info = await m.info('commandstats');
      return [...info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((n, x) => n + Number(x[1]), 0);
    }),
  );
}
const resetCounters = () => Promise.all(masters.map((m) => m.config('RESETSTAT')));
const reasonOn = async (store: RedisTokenStore, r: TokenRecord) => {
  const o = await store.check(r.jti, r.identityId, T0, false);
  return o.ok ? 'ok' : o.reason;
};

describe('one identity on a 3-master Redis Cluster', () => {
  it(`spreads the checks of ${TOKENS} tokens of one identity over every master; revoke-all from another store refuses them all`, async () => {
    const identityId = 'build-agents';
    const tokens = Array.from({ length: TOKENS }, () => limited(5, { identityId }));
    await resetCounters();
    for (const t of tokens) await a.put(t, { maxOutstanding: 1000, identityRate: { limit: 1000, windowMs: 60_000 } });
    const puts = await scriptsPerMaster();
    await resetCounters();
    for (const t of tokens) expect((await a.check(t.jti, identityId, T0, true)).ok).toBe(true);
    const checks = await scriptsPerMaster();
    process.stdout.write(`scripts per master: ${TOKENS} puts ${JSON.stringify(puts)}, ${TOKENS} checks ${JSON.stringify(checks)}\n`);
    // One script per check, none on a home slot; every master served a substantial share (its
    // fair share is a third; 'build-agents' has 4, 6 and 6 of the 16 shards on the three masters).
    expect(checks.reduce((x, y) => x + y, 0)).toBe(TOKENS);
    for (const n of checks) expect(n).toBeGreaterThanOrEqual(0.15 * TOKENS);
    // A put is one home script (the identity's rate, quota and count) plus the token's own.
    expect(puts.reduce((x, y) => x + y, 0)).toBe(2 * TOKENS);
    for (const n of puts) expect(n).toBeGreaterThanOrEqual(0.15 * TOKENS);

    await b.revokeIdentity(identityId, T0);
    const after = await Promise.all(tokens.map((t) => reasonOn(a, t)));
    expect(after.filter((r) => r !== 'revoked')).toEqual([]);
    expect((await b.renew(tokens[0]!.jti, identityId, T0, T0 + 1000)).ok).toBe(false);
    // Tokens put after it live, on every shard, and the quota starts afresh.
    const fresh = Array.from({ length: 40 }, () => makeRecord({ identityId }));
    for (const t of fresh) await a.put(t, { maxOutstanding: 40 });
    expect(await Promise.all(fresh.map((t) => reasonOn(b, t)))).toEqual(fresh.map(() => 'ok'));
    await expect(a.put(makeRecord({ identityId }), { maxOutstanding: 40 })).rejects.toMatchObject({ code: 'token_quota_exceeded' });
  }, 60_000);

  it('takes exactly N uses of tokens on every shard, with two stores racing', async () => {
    const identityId = 'racing-uses';
    const tokens = Array.from({ length: 32 }, () => limited(3, { identityId }));
    for (const t of tokens) await a.put(t);
    const results = await Promise.all(tokens.flatMap((t) => Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).check(t.jti, identityId, T0, true).then((r) => [t.jti, r.ok] as const))));
    for (const t of tokens) expect(results.filter(([jti, ok]) => jti === t.jti && ok)).toHaveLength(3);
    // Every token spent its last use: none is outstanding any more.
    await a.put(makeRecord({ identityId }), { maxOutstanding: 1 });
  });

  it('admits exactly the quota, and exactly the login rate, over puts racing from two stores', async () => {
    const quotaId = 'racing-quota';
    const byQuota = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).put(makeRecord({ identityId: quotaId }), { maxOutstanding: 10 })));
    expect(byQuota.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    for (const r of byQuota) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'token_quota_exceeded' });
    const rateId = 'racing-rate';
    const byRate = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).put(makeRecord({ identityId: rateId }), { identityRate: { limit: 10, windowMs: 60_000 } })));
    expect(byRate.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    for (const r of byRate) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'rate_limited', status: 429 });
  });

  it('keeps the quota count exact when puts race a revoke-all: it counts exactly the tokens that survive', async () => {
    const identityId = 'racing-revoke-all';
    const before = Array.from({ length: 30 }, () => makeRecord({ identityId }));
    for (const t of before) await a.put(t);
    const racing = Array.from({ length: 60 }, () => makeRecord({ identityId }));
    await Promise.all([
      ...racing.map((t, i) => (i % 2 ? a : b).put(t)),
      (async () => {
        await new Promise((r) => setImmediate(r));
        await b.revokeIdentity(identityId, T0);
      })(),
    ]);
    // Every token put before the call started is refused.
    expect((await Promise.all(before.map((t) => reasonOn(a, t)))).filter((r) => r !== 'revoked')).toEqual([]);
    // Of the racing ones, some may have been stamped before the revoke-all, some after: the quota
    // counts the survivors, no more (no refused token over-counted), no fewer (none forgotten).
    const live = (await Promise.all(racing.map((t) => reasonOn(a, t)))).filter((r) => r === 'ok').length;
    await a.put(makeRecord({ identityId }), { maxOutstanding: live + 1 });
    await expect(a.put(makeRecord({ identityId }), { maxOutstanding: live + 1 })).rejects.toMatchObject({ code: 'token_quota_exceeded' });
  });

  it('answers a revoke-all 503 unless every shard took it; meanwhile its tokens still count; the retry completes it', async () => {
    const identityId = 'revoke-all-outage';
    const tokens = Array.from({ length: 48 }, () => makeRecord({ identityId }));
    for (const t of tokens) await a.put(t);
    const home = await cluster.masterOf(a.keys.outstanding(identityId));
    const other = cluster.nodes.slice(0, 3).find((n) => n !== home)!;
    const owners = await Promise.all(tokens.map((t) => cluster.masterOf(a.keys.token(identityId, t.jti))));
    const stopped = tokens.filter((_, i) => owners[i] === other);
    const fast = new RedisTokenStore({ cluster: cluster.urls, commandTimeoutMs: 250 });
    await fast.ping();
    other.process.signal('SIGSTOP');
    try {
      await expect(fast.revokeIdentity(identityId, T0)).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
    } finally {
      other.process.signal('SIGCONT');
      await fast.close();
    }
    expect(stopped.length).toBeGreaterThan(0);
    // Not reported done, so the tokens it moved aside still count: the quota over-counts, never under.
    await expect(a.put(makeRecord({ identityId }), { maxOutstanding: tokens.length })).rejects.toMatchObject({ code: 'token_quota_exceeded' });
    await b.revokeIdentity(identityId, T0);
    expect((await Promise.all(tokens.map((t) => reasonOn(a, t)))).filter((r) => r !== 'revoked')).toEqual([]);
    await a.put(makeRecord({ identityId }), { maxOutstanding: 1 });
  });
});
