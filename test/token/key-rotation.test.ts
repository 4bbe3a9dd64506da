import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { parseKeyFile, writeNewKey } from '../../src/token/key-file.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTGATE_MAIN, type CertgateProcess } from '../helpers/certgate-process.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { getJson, LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One answer of the traffic loop. */
interface Call {
  what: string;
  gateway: string;
  status: number;
  error?: string;
  kid?: string;
  iat?: number;
}

/**
 * The done-when of keys with a lifecycle: two gateway processes on one real redis-server share
 * keys.dir; `certgate keys rotate` runs while both serve logins, renewals and calls with each
 * other's tokens. No call is refused; the new key is in both JWKS within 10 s, signs only after
 * publishBefore (3 s here), and the old key's tokens verify until they expire.
 */
describe('keys rotate while two gateways serve', () => {
  const PUBLISH_BEFORE = 3;
  const MAX_TTL = 8; // and clock skew 0: a superseded key retires 10 + 8 s after it stopped signing
  let fleet: Fleet<CertgateProcess>;
  let a: CertgateProcess;
  let b: CertgateProcess;
  let header: string;

  beforeAll(async () => {
    const pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    fleet = await startFleet({
      size: 2,
      config: {
        log: { level: 'info' },
        clockSkewSeconds: 0,
        keys: { publishBefore: PUBLISH_BEFORE },
        // The traffic loops log in far more often than 600 times a minute from 127.0.0.1.
        limits: { loginsPerIpPerMinute: 0, loginsPerIdentityPerMinute: 0 },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: pki.rootA.pem, accessTokenTTL: 6, accessTokenMaxTTL: MAX_TTL }],
      },
    });
    [a, b] = fleet.gateways as [CertgateProcess, CertgateProcess];
  });
  afterAll(() => fleet?.stop());

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const kidsOf = async (gw: CertgateProcess) => {
    const res = await getJson(`${gw.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    return { kids: (res.body.keys as { kid: string }[]).map((k) => k.kid), cacheControl: res.headers.get('cache-control') };
  };

  it('zero refusals for any kid; the new key is published within 10 s, signs after publishBefore; old tokens verify until they expire', async () => {
    const calls: Call[] = [];
    const record = (what: string, gw: CertgateProcess, status: number, body: any, token?: string) => {
      const c: Call = { what, gateway: gw === a ? 'a' : 'b', status, error: body?.error };
      if (token) Object.assign(c, { kid: decodeProtectedHeader(token).kid, iat: decodeJwt(token).iat });
      calls.push(c);
      return c;
    };
    let stop = false;
    // Each loop: login on one gateway, renew on the other, then calls on both with both tokens.
    const loop = async (first: CertgateProcess, second: CertgateProcess) => {
      while (!stop) {
        const login = await postJson(first.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
        record('login', first, login.status, login.body, login.body.accessToken);
        if (login.status !== 200) continue;
        const renew = await postJson(`${second.url}/api/v1/auth/token/renew`, { accessToken: login.body.accessToken });
        record('renew', second, renew.status, renew.body, renew.body.accessToken);
        const token = renew.status === 200 ? renew.body.accessToken : login.body.accessToken;
        for (const gw of [first, second]) {
          const self = await getJson(`${gw.url}/api/v1/auth/token/self`, bearer(token));
          record('self', gw, self.status, self.body);
          const fwd = await fetch(`${gw.url}/api/v1/auth/forward`, { headers: bearer(token) });
          record('forward', gw, fwd.status, fwd.status === 204 ? undefined : await fwd.json());
        }
      }
    };
    const traffic = Promise.all([loop(a, b), loop(b, a)]);

    await sleep(1500);
    const { kids: before } = await kidsOf(a);
    expect(before).toHaveLength(1);
    const [oldKid] = before;

    const rotate = await run(process.execPath, [CERTGATE_MAIN, 'keys', 'rotate', '--config', a.configFile], { env: { ...process.env, CERTGATE_CONFIG: '', REDIS_URL: '' } });
    const rotatedAt = Date.now();
    const [, kid, signsFrom] = rotate.stdout.match(/^(\S+) \(ES256\) written to .*\nevery gateway publishes it in its JWKS within 10 s; it signs from (\S+) \(keys\.publishBefore 3 s\)/)!;
    const activatesAt = Date.parse(signsFrom!);

    // Published on both within 10 s (the re-read period is 5 s), cacheable for no longer than fits publishBefore.
    const publishedAt: Record<string, number> = {};
    while (Object.keys(publishedAt).length < 2 && Date.now() < rotatedAt + 11_000) {
      for (const [name, gw] of [['a', a], ['b', b]] as const) {
        const { kids, cacheControl } = await kidsOf(gw);
        expect(cacheControl).toBe('public, max-age=0');
        if (!publishedAt[name] && kids.includes(kid!)) publishedAt[name] = Date.now();
      }
      await sleep(100);
    }
    expect(Object.keys(publishedAt).sort()).toEqual(['a', 'b']);

    // Let both gateways sign with the new key for a while.
    while (Date.now() < activatesAt + 3000) await sleep(100);
    stop = true;
    await traffic;

    const refused = calls.filter((c) => c.status >= 300);
    expect(refused, JSON.stringify(refused.slice(0, 5))).toEqual([]);
    const signed = calls.filter((c) => c.kid);
    // The new key signed only after publishBefore; the old one kept signing until then, also
    // after both gateways published the new key; both gateways signed with the new one after.
    expect(signed.filter((c) => c.kid === kid).every((c) => c.iat! * 1000 >= activatesAt)).toBe(true);
    // A gateway that reads the new key only after it activated (publishBefore 3 s is shorter than
    // the 5 s re-read) keeps signing with the old key until it does: at most 10 s.
    expect(signed.filter((c) => c.kid === oldKid).every((c) => c.iat! * 1000 < activatesAt + 10_000)).toBe(true);
    // (A gateway that reads the key after it activated signs with it at once; the other resolves
    // the unknown kid on demand.)
    expect(signed.some((c) => c.kid === oldKid && c.iat! >= Math.ceil(rotatedAt / 1000))).toBe(true);
    expect(new Set(signed.filter((c) => c.kid === kid).map((c) => c.gateway))).toEqual(new Set(['a', 'b']));
    expect(new Set(signed.map((c) => c.kid))).toEqual(new Set([oldKid, kid]));
    expect(calls.filter((c) => c.what === 'self').length).toBeGreaterThan(10);
  }, 45_000);

  it('a token of the superseded key verifies on both gateways until it expires; the key leaves both JWKS once every token it signed has', async () => {
    const { kids } = await kidsOf(a);
    expect(kids).toHaveLength(2);
    const [active, old] = kids; // the active key first
    // Rotate again; the last token the current key signs before the switch is the one to follow.
    const rotate = await run(process.execPath, [CERTGATE_MAIN, 'keys', 'rotate', '--config', a.configFile], { env: { ...process.env, CERTGATE_CONFIG: '', REDIS_URL: '' } });
    const [, kid, signsFrom] = rotate.stdout.match(/^(\S+) \(ES256\) written to .*\nevery gateway publishes it in its JWKS within 10 s; it signs from (\S+) /)!;
    const activatesAt = Date.parse(signsFrom!);
    let last: string | undefined;
    while (Date.now() < activatesAt - 300) {
      const res = await postJson(a.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
      expect(res.status).toBe(200);
      last = res.body.accessToken;
      await sleep(100);
    }
    expect(decodeProtectedHeader(last!).kid).toBe(active);
    const exp = decodeJwt(last!).exp! * 1000;
    // After the switch, until its exp, the superseded key's token is accepted on both gateways.
    while (Date.now() < activatesAt) await sleep(50);
    while (Date.now() < exp - 500) {
      for (const gw of [a, b]) expect((await getJson(`${gw.url}/api/v1/auth/token/self`, bearer(last!))).status).toBe(200);
      await sleep(250);
    }
    while (Date.now() < exp + 1000) await sleep(100);
    for (const gw of [a, b]) {
      const res = await getJson(`${gw.url}/api/v1/auth/token/self`, bearer(last!));
      expect(res.body.error).toBe('token_expired'); // expired, not an unknown key: it is still published
      expect((await kidsOf(gw)).kids).toContain(active);
    }
    // The key retires 10 s (late readers) + MAX_TTL after it stopped signing: out of both JWKS then
    // (states follow the clock), and in both until shortly before.
    const retiresAt = activatesAt + 10_000 + MAX_TTL * 1000;
    while (Date.now() < retiresAt - 1000) await sleep(100);
    for (const gw of [a, b]) expect((await kidsOf(gw)).kids).toContain(active);
    while (Date.now() < retiresAt + 300) await sleep(100);
    for (const gw of [a, b]) expect((await kidsOf(gw)).kids).toEqual([kid]);
    // The first key, superseded by the previous test's rotation, retired before: never re-published.
    expect(kids).toContain(old);
    // Every gateway audited what it observed (its stdout may reach us a moment after its answers).
    for (const gw of [a, b]) {
      const of = (event: string) =>
        gw.process
          .output()
          .split('\n')
          .filter((l) => l.includes('"audit":true'))
          .map((l) => JSON.parse(l))
          .filter((e) => e.event === event)
          .map((e) => e.kid);
      for (let i = 0; i < 20 && ![old, active].every((k) => of('key_retired').includes(k)); i++) await sleep(100);
      expect(of('key_published')).toEqual(expect.arrayContaining([active, kid]));
      expect(of('key_activated')).toEqual(expect.arrayContaining([active, kid]));
      expect(of('key_retired')).toEqual(expect.arrayContaining([old, active]));
    }
  }, 60_000);
  it('a gateway meeting a kid it has not read yet re-reads keys.dir at once: a key written a moment ago is never refused for its kid', async () => {
    const keysDir = fleet.keysDir;
    const kid = await writeNewKey(keysDir, 'ES256', Date.now(), Date.now() + 3600_000);
    const key = await parseKeyFile(readFileSync(join(keysDir, `${kid}.jwk.json`), 'utf8'));
    const now = Math.floor(Date.now() / 1000);
    // Signed by the new key, never issued (no record): past the kid, the store refuses it.
    const token = await new SignJWT({ iss: 'https://certgate.test', aud: 'certgate', sub: 'agents', jti: randomUUID(), iat: now, nbf: now, exp: now + 5, scope: '' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .sign(key.privateKey);
    for (const gw of [a, b]) {
      const res = await getJson(`${gw.url}/api/v1/auth/token/self`, bearer(token));
      expect(res.body.error).toBe('token_unknown');
    }
    // A kid that is in no file stays unknown.
    const forged = `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'no-such-key' })).toString('base64url')}.${token.split('.')[1]}.${token.split('.')[2]}`;
    for (const gw of [a, b]) expect((await getJson(`${gw.url}/api/v1/auth/token/self`, bearer(forged))).body.error).toBe('token_key_unknown');
  });
});
