/**
 * A Redis outage must refuse fast (503 store_unavailable, never a hang, never a fail-open) and
 * heal by itself: the same store object works again once Redis is back.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TokenStore } from '../../src/store/types.js';
import { RedisTokenStore } from '../../src/store/redis.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisServer } from '../helpers/launcher.js';
import { T0, limited, makeRecord } from './fixtures.js';

const COMMAND_TIMEOUT_MS = 250;
/** "Within ~2 × commandTimeout", plus scheduling slack for a loaded CI machine. */
const BOUND_MS = 2 * COMMAND_TIMEOUT_MS + 250;

/** Every TokenStore operation, against a record that may or may not exist. */
function everyOperation(store: TokenStore) {
  const rec = makeRecord();
  return {
    put: () => store.put(makeRecord()),
    check: () => store.check(rec.jti, rec.identityId, T0, false),
    consume: () => store.check(rec.jti, rec.identityId, T0, true),
    renew: () => store.renew(rec.jti, rec.identityId, T0, T0 + 1000),
    revoke: () => store.revoke(rec.jti, rec.identityId),
    revokeIdentity: () => store.revokeIdentity(rec.identityId, T0),
    ping: () => store.ping(),
  };
}

async function expectFastUnavailable(name: string, op: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  const err = await op().then(() => new Error(`${name} succeeded during an outage`), (e: unknown) => e);
  const elapsed = performance.now() - started;
  expect(err, name).toMatchObject({ name: 'CertgateError', code: 'store_unavailable', status: 503 });
  expect(elapsed, `${name} took ${elapsed.toFixed(0)} ms`).toBeLessThan(BOUND_MS);
}

const waitUntilServing = (store: TokenStore) => vi.waitFor(() => store.ping(), { timeout: 10_000, interval: 50 });

describe('RedisTokenStore when redis-server fails', () => {
  let server: RedisServer;
  let store: RedisTokenStore;
  beforeAll(async () => {
    server = await startRedis();
    store = new RedisTokenStore({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('refuses every operation with store_unavailable within the bound after a crash (SIGKILL)', async () => {
    const rec = limited(3);
    await store.put(rec);
    await server.kill();
    for (const [name, op] of Object.entries(everyOperation(store))) await expectFastUnavailable(name, op);
    // Many at once too: nothing queues up behind the outage.
    await Promise.all(Array.from({ length: 20 }, () => expectFastUnavailable('concurrent check', everyOperation(store).consume)));
  });

  it('serves again after a restart on the same port, without a new store', async () => {
    await server.restart();
    await waitUntilServing(store);
    const rec = limited(2);
    await store.put(rec);
    expect((await store.check(rec.jti, rec.identityId, T0, true)).ok).toBe(true);
    for (const op of Object.values(everyOperation(store))) await op();
  });

  it('times out within the bound while redis-server hangs (SIGSTOP), then recovers (SIGCONT)', async () => {
    const rec = limited(2);
    await store.put(rec);
    server.process.signal('SIGSTOP');
    try {
      for (const [name, op] of Object.entries(everyOperation(store))) await expectFastUnavailable(name, op);
    } finally {
      server.process.signal('SIGCONT');
    }
    await waitUntilServing(store);
    expect((await store.check(rec.jti, rec.identityId, T0, false)).ok).toBe(true);
  });
});

describe('RedisTokenStore started before its redis-server', () => {
  it('refuses within the bound while Redis is absent, then connects by itself once it starts', async () => {
    const port = await freePort();
    const store = new RedisTokenStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    let server: RedisServer | undefined;
    try {
      for (const [name, op] of Object.entries(everyOperation(store))) await expectFastUnavailable(name, op);
      server = await startRedis({ port });
      await waitUntilServing(store);
      const rec = limited(1);
      await store.put(rec);
      expect((await store.check(rec.jti, rec.identityId, T0, true)).ok).toBe(true);
    } finally {
      await store.close();
      await server?.stop();
    }
  });
});

describe('RedisTokenStore: an operation answered 503 during a stall changes nothing when Redis resumes', () => {
  it('consume, renew and put sent while redis-server is stopped are refused by their deadline afterwards', async () => {
    const server = await startRedis();
    const store = new RedisTokenStore({ url: server.url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    try {
      const rec = limited(5);
      await store.put(rec);
      const late = makeRecord({ identityId: rec.identityId });
      server.process.signal('SIGSTOP');
      try {
        await expectFastUnavailable('consume', () => store.check(rec.jti, rec.identityId, T0, true));
        await expectFastUnavailable('renew', () => store.renew(rec.jti, rec.identityId, T0, rec.maxExpiresAt));
        await expectFastUnavailable('put', () => store.put(late));
      } finally {
        server.process.signal('SIGCONT');
      }
      await waitUntilServing(store); // every command sent before has now run
      const after = await store.check(rec.jti, rec.identityId, T0, false);
      expect(after).toEqual({ ok: true, record: rec }); // no use taken, expiry not moved
      expect(await store.check(late.jti, late.identityId, T0, false)).toEqual({ ok: false, reason: 'not_found' });
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
