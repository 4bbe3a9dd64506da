import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { storeMisconfigured } from '../../src/errors.js';
import { StoreHealth } from '../../src/live/store-health.js';
import { ManualClock, systemClock } from '../../src/util/clock.js';
import { LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

/** The audit lines written for refused token calls, introspection, and store outages. */
function capture() {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const audits = (event: string) => lines.filter((l) => l.audit && l.event === event);
  return { log: pino({ level: 'info' }, sink), audits };
}

describe('audit events emitted by the gateway', () => {
  const { log, audits } = capture();
  let gw: TestGateway;
  let base: string;
  let header: string;
  const SECRET = 'rs-secret-0123456789';

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    gw = await startTestGateway(
      {
        introspection: { clients: [{ id: 'rs-1', secret: SECRET }] },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem, scopes: ['a'] }],
      },
      { clock: systemClock, log },
    );
    base = gw.url;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('token_refused names the reason and path, never the token', async () => {
    const res = await fetch(`${base}/api/v1/auth/forward`, { headers: { authorization: 'Bearer not.a.token' } });
    expect(res.status).toBe(401);
    const line = audits('token_refused').at(-1)!;
    expect(line).toMatchObject({ reason: 'token_malformed', path: '/api/v1/auth/forward', clientIp: '127.0.0.1' });
    expect(JSON.stringify(line)).not.toContain('not.a.token');
  });

  it('introspection names the client, the answer and the token', async () => {
    const token = (await postJson(base + LOGIN_PATH, {}, { 'x-ssl-client-cert': header })).body.accessToken as string;
    const basic = `Basic ${Buffer.from(`rs-1:${SECRET}`).toString('base64')}`;
    for (const t of [token, 'garbage']) {
      await fetch(`${base}/oauth2/introspect`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${t}` });
    }
    const [active, inactive] = audits('introspection').slice(-2);
    expect(active).toMatchObject({ client: 'rs-1', active: true, identity: 'agents' });
    expect(active!.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(inactive).toMatchObject({ client: 'rs-1', active: false });
    expect(JSON.stringify(audits('introspection'))).not.toContain(token);
  });
});

describe('store outage audit', () => {
  it('writes store_unavailable and store_recovered once per outage, on transitions only', () => {
    const { log, audits } = capture();
    const clock = new ManualClock(1_000_000);
    const health = new StoreHealth(log, clock);
    health.answered();
    health.failed(storeMisconfigured('maxmemory-policy allkeys-lru may evict certgate keys'));
    health.failed(new Error('connect ECONNREFUSED'));
    clock.advance(2500);
    health.failed(new Error('again'));
    health.answered();
    health.answered();
    expect(audits('store_unavailable')).toEqual([expect.objectContaining({ err: 'connect ECONNREFUSED', level: 50 })]);
    expect(audits('store_recovered')).toEqual([expect.objectContaining({ downForMs: 2500, level: 40 })]);
  });
});
