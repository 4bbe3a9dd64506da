/**
 * `store.waitReplicas` on a real redis-server that has NO replica: every write that matters is
 * refused 503 store_unavailable (it happened on the master but no replica acknowledged it), lookups
 * and refusals are not, and without waitReplicas nothing changes. The fleet suites (ha-suite.ts)
 * prove it on Sentinel and Cluster with a replica paused and resumed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertgateError } from '../../src/errors.js';
import { RedisTokenStore } from '../../src/store/redis.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { limited, T0 } from './fixtures.js';

let server: RedisServer;
const stores: RedisTokenStore[] = [];
const open = (opts: Partial<ConstructorParameters<typeof RedisTokenStore>[0]> = {}) => {
  const s = new RedisTokenStore({ url: server.url, ...opts });
  stores.push(s);
  return s;
};

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
});

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CertgateError);
  return err as CertgateError;
};

describe('store.waitReplicas with no replica to acknowledge', () => {
  it('refuses put, consume, renew, revoke, revoke-all, identity and certificate-revocation writes with 503 store_unavailable', async () => {
    const plain = open();
    const waiting = open({ waitReplicas: 1, waitReplicasTimeoutMs: 20 });
    const put = await refusal(waiting.put(limited(3)));
    expect([put.status, put.code]).toEqual([503, 'store_unavailable']);
    expect(put.message).toContain('acknowledged by 0 of 1 replicas within 20 ms');

    const rec = limited(3);
    await plain.put(rec);
    expect((await refusal(waiting.check(rec.jti, rec.identityId, T0, true))).code).toBe('store_unavailable');
    // The refused call's use is spent on the master: fail closed, never handed back.
    const after = await plain.check(rec.jti, rec.identityId, T0, false);
    expect(after.ok && after.record.usesRemaining).toBe(2);
    expect((await refusal(waiting.renew(rec.jti, rec.identityId, T0, T0 + 120_000))).code).toBe('store_unavailable');
    expect((await refusal(waiting.revoke(rec.jti, rec.identityId))).code).toBe('store_unavailable');
    // …yet the revoke happened on the master: refused for durability, not undone.
    expect(await plain.check(rec.jti, rec.identityId, T0, false)).toEqual({ ok: false, reason: 'revoked' });
    expect((await refusal(waiting.revokeIdentity('other-identity', T0))).code).toBe('store_unavailable');
    expect((await refusal(waiting.putIdentity('api-1', '{}'))).code).toBe('store_unavailable');
    expect((await refusal(waiting.deleteIdentity('api-1'))).code).toBe('store_unavailable');
    const revokeCert = waiting.revokeCertificate({ sha256: 'cd'.repeat(32) }, { now: Date.now(), defaultUntil: Date.now() + 60_000 });
    expect((await refusal(revokeCert)).code).toBe('store_unavailable');
  });

  it('answers lookups and refusals as usual: nothing was written, nothing to wait for', async () => {
    const plain = open();
    const waiting = open({ waitReplicas: 1, waitReplicasTimeoutMs: 20 });
    const rec = limited(1);
    await plain.put(rec);
    expect((await waiting.check(rec.jti, rec.identityId, T0, false)).ok).toBe(true);
    await plain.check(rec.jti, rec.identityId, T0, true);
    expect(await waiting.check(rec.jti, rec.identityId, T0, true)).toEqual({ ok: false, reason: 'uses_exhausted' });
    expect(await waiting.check('no-such-jti', rec.identityId, T0, true)).toEqual({ ok: false, reason: 'not_found' });
    expect(await waiting.revoke('no-such-jti', 'some-identity')).toBe(false);
    // Login-rate counters are not waited for.
    expect((await waiting.hitRate('ip:192.0.2.1', 5, 60_000, T0)).allowed).toBe(true);
  });

  it('waits half of the command timeout unless told otherwise', async () => {
    const waiting = open({ waitReplicas: 1, commandTimeoutMs: 400 });
    expect((await refusal(waiting.put(limited(1)))).message).toContain('within 200 ms');
  });

  it('without waitReplicas (the default) writes need no replica', async () => {
    const plain = open();
    const rec = limited(2);
    await plain.put(rec);
    expect((await plain.check(rec.jti, rec.identityId, T0, true)).ok).toBe(true);
    expect(await plain.revoke(rec.jti, rec.identityId)).toBe(true);
  });
});
