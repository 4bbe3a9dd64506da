/**
 * certgate/client against a real certgate process (redis-server + the compiled gateway, its own
 * mTLS listener). Clocks and sleeps are injected where a test is about logic, not about time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import axios from 'axios';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertgateClient, CertgateClientError, type ClientEvent } from '../../src/client/index.js';
import { jwtPayload, startClientGateway, type ClientCredsFiles, type ClientGateway } from '../helpers/client-gateway.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT } from '../helpers/terminators.js';

const SELF = '/api/v1/auth/token/self';

describe('CertgateClient against certgate’s direct mTLS listener', () => {
  let gw: ClientGateway;
  let agent1: ClientCredsFiles;
  const clients: CertgateClient[] = [];
  const make = (o: Partial<ConstructorParameters<typeof CertgateClient>[0]> = {}) => {
    const c = new CertgateClient({ url: gw.tlsUrl, cert: agent1.cert, key: agent1.key, ca: gw.ca, identityId: 'agents', ...o });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    gw = await startClientGateway();
    agent1 = await gw.creds('agent-1');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
  });

  it('token() logs in with the certificate; fetch() sends it as a bearer token', async () => {
    const c = make();
    const token = await c.token();
    expect(jwtPayload(token)).toMatchObject({ sub: 'agents' });
    const res = await c.fetch(SELF);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ identityId: 'agents', subject: expect.stringContaining('agent-1') });
  });

  it('schedules renewal renewBeforeSeconds (default 60) before expiry, never past half its life', async () => {
    const start = Date.now();
    const info = await make().tokenInfo();
    // accessTokenTTL 600: renew 60 s before the (conservatively estimated) expiry.
    expect(info.expiresAt - info.refreshAt).toBe(60_000);
    expect(info.expiresAt).toBeGreaterThan(start + 598_000);
    expect(info.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    // renewBeforeSeconds beyond the token's life: renewal half-way between login and expiry.
    const t0 = Date.now();
    const late = await make({ renewBeforeSeconds: 1000 }).tokenInfo();
    expect(late.refreshAt).toBeGreaterThanOrEqual((t0 + late.expiresAt) / 2);
    expect(late.refreshAt).toBeLessThanOrEqual((Date.now() + late.expiresAt) / 2);
  });

  it('concurrent callers share one login, then the cached token', async () => {
    const c = make();
    const before = await gw.logins();
    const tokens = await Promise.all(Array.from({ length: 25 }, () => c.token()));
    expect(new Set(tokens).size).toBe(1);
    expect(await gw.logins()).toBe(before + 1);
    await c.token();
    expect(await gw.logins()).toBe(before + 1);
  });

  it('renews when due (same jti, no new login); concurrent callers share the renewal', async () => {
    let offset = 0;
    const events: ClientEvent[] = [];
    const c = make({ now: () => Date.now() + offset, onEvent: (e) => events.push(e) });
    const first = await c.tokenInfo();
    const loginsAfterFirst = await gw.logins();
    const renewsBefore = gw.auditCount('renew');
    offset = first.refreshAt - Date.now() + 1; // the client's clock says renewal is due
    const tokens = await Promise.all(Array.from({ length: 10 }, () => c.token()));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(first.accessToken);
    expect(jwtPayload(tokens[0]!).jti).toBe(jwtPayload(first.accessToken).jti);
    expect(await gw.logins()).toBe(loginsAfterFirst);
    await expect.poll(() => gw.auditCount('renew')).toBe(renewsBefore + 1);
    expect(events.map((e) => e.type)).toEqual(['login', 'renew']);
  });

  it('logs in again when renewal is refused (token revoked)', async () => {
    let offset = 0;
    const events: ClientEvent[] = [];
    const c = make({ now: () => Date.now() + offset, onEvent: (e) => events.push(e) });
    const first = await c.tokenInfo();
    const revoke = await fetch(`${gw.certgate.url}/api/v1/auth/token/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessToken: first.accessToken }),
    });
    expect(revoke.status).toBe(200);
    offset = first.refreshAt - Date.now() + 1;
    const next = await c.token();
    expect(jwtPayload(next).jti).not.toBe(jwtPayload(first.accessToken).jti);
    expect(events).toEqual([
      expect.objectContaining({ type: 'login' }),
      { type: 'renew_refused', status: 401, code: 'token_revoked' },
      expect.objectContaining({ type: 'login' }),
    ]);
    expect((await c.fetch(SELF)).status).toBe(200);
  });

  it('retries 503 store_unavailable with backoff until certgate answers again', async () => {
    const sleeps: number[] = [];
    const events: ClientEvent[] = [];
    const c = make({
      onEvent: (e) => events.push(e),
      random: () => 0.5,
      // The wait is where the outage ends: redis comes back, the gateway reconnects.
      sleep: async (ms) => {
        sleeps.push(ms);
        await gw.redis.restart();
        await expect.poll(async () => (await fetch(`${gw.certgate.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
      },
    });
    await gw.redis.process.stop(); // keeps its directory, so restart() works
    await expect.poll(async () => (await fetch(`${gw.certgate.url}/readyz`)).status, { timeout: 15_000 }).toBe(503);
    const token = await c.token();
    expect(jwtPayload(token)).toMatchObject({ sub: 'agents' });
    expect(sleeps).toEqual([100]); // random 0.5 × base 200 ms
    expect(events[0]).toMatchObject({ type: 'retry', operation: 'login', attempt: 1, reason: expect.stringContaining('store_unavailable') });
  });

  it('gives up after the configured attempts on connection errors, with growing, capped waits', async () => {
    const sleeps: number[] = [];
    const c = make({ url: `https://127.0.0.1:${await freePort()}`, retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 300 }, random: () => 0.99, sleep: async (ms) => void sleeps.push(ms) });
    const err = await c.token().catch((e) => e);
    expect(err).toBeInstanceOf(CertgateClientError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(sleeps).toEqual([99, 198, 297]);
  });

  it('does not retry a refusal: 401 common_name_not_allowed at once', async () => {
    const intruder = await gw.creds('intruder-1');
    const sleeps: number[] = [];
    const c = make({ cert: intruder.cert, key: intruder.key, sleep: async (ms) => void sleeps.push(ms) });
    const err = await c.token().catch((e) => e);
    expect(err).toMatchObject({ name: 'CertgateClientError', status: 401, code: 'common_name_not_allowed' });
    expect(sleeps).toEqual([]);
  });

  it('dispatcher: undici requests carry the bearer token', async () => {
    const c = make();
    const res = await undiciRequest(`${gw.certgate.url}${SELF}`, { dispatcher: c.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ identityId: 'agents' });
    // An explicit Authorization header is the caller's choice and is left alone.
    const explicit = await undiciRequest(`${gw.certgate.url}${SELF}`, { dispatcher: c.dispatcher, headers: { authorization: 'Bearer nope' } });
    expect(explicit.statusCode).toBe(401);
    await explicit.body.dump();
  });

  it('dispatcher: a failed login fails the request with the client’s error', async () => {
    const c = make({ url: `https://127.0.0.1:${await freePort()}`, retry: { attempts: 1 } });
    await expect(undiciRequest(`${gw.certgate.url}${SELF}`, { dispatcher: c.dispatcher })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(c.fetch(`${gw.certgate.url}${SELF}`)).rejects.toThrow();
  });

  it('axios(instance): an interceptor adds the bearer token', async () => {
    const c = make();
    const instance = axios.create({ httpsAgent: new HttpsAgent({ ca: gw.ca }) });
    c.axios(instance);
    const res = await instance.get(`${gw.tlsUrl}${SELF}`);
    expect(res.data).toMatchObject({ identityId: 'agents' });
    const explicit = await instance.get(`${gw.tlsUrl}${SELF}`, { headers: { Authorization: 'Bearer nope' }, validateStatus: () => true });
    expect(explicit.status).toBe(401);
  });

  it('setCredentials: the next token() logs in with the new certificate', async () => {
    const agent2 = await gw.creds('agent-2');
    const c = make();
    await c.token();
    c.setCredentials({ cert: agent2.cert, key: agent2.key });
    const res = await c.fetch(SELF);
    expect(await res.json()).toMatchObject({ subject: expect.stringContaining('agent-2') });
  });
});

describe('the package exports certgate/client', () => {
  it('resolves "certgate/client" and "certgate" to the compiled client, with type declarations', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    for (const key of ['.', './client']) {
      expect(existsSync(join(REPO_ROOT, pkg.exports[key].types))).toBe(true);
      expect(existsSync(join(REPO_ROOT, pkg.exports[key].default))).toBe(true);
    }
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "const a = await import('certgate/client'); const b = await import('certgate'); console.log(typeof a.CertgateClient, a.CertgateClient === b.CertgateClient)"], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(out.trim()).toBe('function true');
    // axios is an optional peer, never a runtime dependency.
    expect(Object.keys(pkg.dependencies)).not.toContain('axios');
    expect(pkg.peerDependenciesMeta.axios.optional).toBe(true);
    expect(pkg.bin.certgate).toBe('bin/certgate.js');
  });
});
