import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isCertgateError } from '../../src/errors.js';
import { writeNewKey, type KeyAlgorithm } from '../../src/token/key-file.js';
import { keyStates, longestTokenLifetimeSec } from '../../src/token/key-lifecycle.js';
import { signToken, verifyToken, type AccessClaims } from '../../src/token/jwt.js';
import { KeyRing } from '../../src/token/keys.js';
import { BoundedMap } from '../../src/util/bounded-map.js';
import { ManualClock } from '../../src/util/clock.js';
import { makeTempDir } from '../helpers/launcher.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3600_000;

/** A pino logger whose lines land in `lines`, parsed. */
function capture() {
  const lines: Record<string, any>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, audits: (event: string) => lines.filter((l) => l.audit && l.event === event).map((l) => l.kid) };
}

function setup(opts: { lifetimeSec?: number; create?: KeyAlgorithm } = {}) {
  const dir = join(makeTempDir('certgate-keys-'), 'keys');
  const clock = new ManualClock(T0);
  const { log, lines, audits } = capture();
  let lifetimeSec = opts.lifetimeSec ?? 600;
  const open = () =>
    KeyRing.open({ dir, clock, log, tokenLifetimeSec: () => lifetimeSec, unknownKidRefreshMs: 50, ...(opts.create ? { create: { algorithm: opts.create } } : {}) });
  return { dir, clock, log, lines, audits, open, setLifetime: (s: number) => (lifetimeSec = s) };
}

const claims = (nowMs: number, ttlSec = 60): AccessClaims => {
  const now = Math.floor(nowMs / 1000);
  return { iss: 'https://certgate.test', aud: 'certgate', sub: 'agents', jti: 'j-1', iat: now, nbf: now, exp: now + ttlSec, scope: '' };
};
const verifyOpts = (nowMs: number) => ({ issuer: 'https://certgate.test', audience: 'certgate', now: nowMs, clockSkewSeconds: 0 });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isCertgateError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('the key ring: states and transitions', () => {
  it('generates a first key, active at once, only when asked to and only in an empty dir', async () => {
    const t = setup({ create: 'ES256' });
    const ring = await t.open();
    expect(ring.list().map((s) => s.state)).toEqual(['active']);
    expect(ring.active.activatesAt).toBe(T0);
    expect(t.audits('key_published')).toEqual([ring.active.kid]);
    expect(t.audits('key_activated')).toEqual([ring.active.kid]);
    // A second start finds the key and creates nothing.
    await t.open();
    expect(readdirSync(t.dir).filter((f) => f.endsWith('.jwk.json'))).toHaveLength(1);
  });

  it('without create (keys list), an empty dir stays empty', async () => {
    const t = setup();
    const ring = await t.open();
    expect(ring.list()).toEqual([]);
    expect(ring.jwks().keys).toEqual([]);
    expect(readdirSync(t.dir)).toEqual([]);
  });

  it('a rotated key is next (published, not signing) until publishBefore, then active; the old one retires after the longest token lifetime', async () => {
    const t = setup({ create: 'ES256', lifetimeSec: 600 });
    const ring = await t.open();
    const old = ring.active.kid;
    const kid = await writeNewKey(t.dir, 'ES256', T0, T0 + HOUR);
    await ring.refresh();
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([old, kid]);
    expect(Object.fromEntries(ring.list().map((s) => [s.key.kid, s.state]))).toEqual({ [old]: 'active', [kid]: 'next' });
    expect(t.audits('key_published')).toContain(kid);

    t.clock.set(T0 + HOUR - 1);
    expect(ring.active.kid).toBe(old);
    t.clock.set(T0 + HOUR); // by time alone: no re-read needed
    expect(ring.active.kid).toBe(kid);
    expect(t.audits('key_activated')).toContain(kid);
    const retiring = ring.list().find((s) => s.key.kid === old)!;
    expect(retiring).toMatchObject({ state: 'retiring', stoppedAt: T0 + HOUR, retiresAt: T0 + HOUR + 610_000 });
    expect(ring.byKid(old)).toBeDefined();

    // 600 s of token lifetime + 10 s for a gateway that read the new key late and signed with the old one meanwhile.
    t.clock.set(T0 + HOUR + 610_000 - 1);
    expect(ring.jwks().keys.map((k) => k.kid)).toContain(old);
    t.clock.set(T0 + HOUR + 610_000);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([kid]);
    expect(ring.byKid(old)).toBeUndefined();
    expect(await ring.resolve(old)).toBeUndefined();
    expect(t.audits('key_retired')).toEqual([old]);
    expect(ring.list().find((s) => s.key.kid === old)).toMatchObject({ state: 'retired', retiresAt: T0 + HOUR + 610_000 });
    // The file stays; a retired key is not re-published by later reads.
    expect(readdirSync(t.dir)).toContain(`${old}.jwk.json`);
    await ring.refresh();
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([kid]);
    expect(t.audits('key_retired')).toEqual([old]);
  });

  it('a retiring key stays published until the last token it can have signed expired, and that bound is never shortened while running', async () => {
    const t = setup({ create: 'ES256', lifetimeSec: 600 });
    const ring = await t.open();
    const old = ring.active.kid;
    await writeNewKey(t.dir, 'ES256', T0, T0 + HOUR);
    await ring.refresh();
    // A token signed by the old key a moment before the new one activated lives 600 s at most.
    t.clock.set(T0 + HOUR - 1000);
    const token = await signToken(claims(t.clock.now(), 600), ring.active);
    t.setLifetime(60); // e.g. a reload lowered every accessTokenMaxTTL: tokens already signed keep their exp
    await ring.refresh();
    t.clock.set(T0 + HOUR - 1000 + 599_000);
    expect((await verifyToken(token, ring, verifyOpts(t.clock.now()))).jti).toBe('j-1');
    expect(ring.byKid(old)).toBeDefined();
    t.setLifetime(7200); // lengthening counts at the next read
    await ring.refresh();
    expect(ring.list().find((s) => s.key.kid === old)!.retiresAt).toBe(T0 + HOUR + 10_000 + 7200_000);
  });

  it('with two rotations the middle key stops signing when the newest activates', () => {
    const key = (kid: string, activatesAt: number) => ({ kid, activatesAt, createdAt: activatesAt }) as any;
    const view = keyStates([key('c', T0 + 2 * HOUR), key('a', T0), key('b', T0 + HOUR)], T0 + 2 * HOUR + 10, 60_000);
    expect(view.active?.kid).toBe('c');
    expect(view.statuses.map((s) => [s.key.kid, s.state, s.stoppedAt])).toEqual([
      ['a', 'retired', T0 + HOUR],
      ['b', 'retiring', T0 + 2 * HOUR],
      ['c', 'active', undefined],
    ]);
    expect(view.changesAt).toBe(T0 + 2 * HOUR + 10_000 + 60_000);
  });

  it('when no key has activated (the active file was removed), the soonest next key signs rather than nobody', async () => {
    const t = setup();
    const soon = await writeNewKey(t.dir, 'ES256', T0, T0 + HOUR);
    await writeNewKey(t.dir, 'ES256', T0, T0 + 2 * HOUR);
    const ring = await t.open();
    expect(ring.active.kid).toBe(soon);
  });

  it('the longest token lifetime is the largest accessTokenMaxTTL or upstream JWT ttl, plus the clock skew', () => {
    const routes = [{ upstreamAuth: { type: 'jwt', ttl: 300 } }, { upstreamAuth: { type: 'header' } }, {}];
    expect(longestTokenLifetimeSec({ clockSkewSeconds: 30, routes }, [{ accessTokenMaxTTL: 86400 }, { accessTokenMaxTTL: 7200 }])).toBe(86430);
    expect(longestTokenLifetimeSec({ clockSkewSeconds: 30, routes }, [{ accessTokenMaxTTL: 100 }])).toBe(330);
  });

  it('reads files written before the ring opened in the old format (no activation time, no alg) as ES256, active since created', async () => {
    const t = setup();
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    mkdirSync(t.dir, { recursive: true });
    writeFileSync(join(t.dir, 'legacy.jwk.json'), JSON.stringify({ ...jwk, kid: 'legacy', use: 'sig', created_at: T0 / 1000 - 10 }));
    const ring = await t.open();
    expect(ring.active).toMatchObject({ kid: 'legacy', alg: 'ES256', activatesAt: T0 - 10_000 });
  });
});

describe('the key ring: algorithms, pinned per kid', () => {
  it.each(['ES256', 'EdDSA', 'RS256'] as const)('a %s key signs tokens that verify, published with its alg', async (alg) => {
    const t = setup({ create: alg });
    const ring = await t.open();
    const token = await signToken(claims(T0), ring.active);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg, kid: ring.active.kid });
    expect((await verifyToken(token, ring, verifyOpts(T0))).sub).toBe('agents');
    const [published] = ring.jwks().keys;
    expect(published).toMatchObject({ alg, use: 'sig', kid: ring.active.kid });
    expect(published!.d).toBeUndefined();
    if (alg === 'RS256') expect(Buffer.from(published!.n!, 'base64url').length * 8).toBeGreaterThanOrEqual(2048);
  });

  it("refuses a token whose header alg differs from its kid's algorithm, before any crypto", async () => {
    const t = setup({ create: 'EdDSA' });
    const ring = await t.open();
    const edKid = ring.active.kid;
    await writeNewKey(t.dir, 'RS256', T0, T0 + HOUR);
    await ring.refresh();
    const rsKid = ring.list().find((s) => s.key.alg === 'RS256')!.key.kid;
    const attacker = (await generateKeyPair('ES256')).privateKey;
    const forged = (alg: string, kid: string, key: any) => new SignJWT(claims(T0)).setProtectedHeader({ alg, kid }).sign(key);
    // An ES256 token claiming the EdDSA key's kid: the alg is one certgate uses, but not that key's.
    expect(await refusal(verifyToken(await forged('ES256', edKid, attacker), ring, verifyOpts(T0)))).toBe('token_algorithm_not_allowed');
    // HS256 keyed with the RSA key's public modulus (the classic confusion).
    const hmacKey = new TextEncoder().encode(JSON.stringify(ring.byKid(rsKid)!.publicJwk));
    expect(await refusal(verifyToken(await forged('HS256', rsKid, hmacKey), ring, verifyOpts(T0)))).toBe('token_algorithm_not_allowed');
    // A genuine signature by the EdDSA key with its header swapped to another alg certgate uses.
    const good = await signToken(claims(T0), ring.active);
    const [, payload, sig] = good.split('.');
    const swapped = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: edKid })).toString('base64url')}.${payload}.${sig}`;
    expect(await refusal(verifyToken(swapped, ring, verifyOpts(T0)))).toBe('token_algorithm_not_allowed');
    // An algorithm certgate never uses is refused without a keys.dir read.
    const reads = ring.reads;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'unknown' })).toString('base64url')}.${payload}.`;
    expect(await refusal(verifyToken(none, ring, verifyOpts(T0)))).toBe('token_algorithm_not_allowed');
    expect(ring.reads).toBe(reads);
  });
});

describe('the key ring: re-reading keys.dir', () => {
  it('an unknown kid re-reads keys.dir once (shared by concurrent lookups), so a key another gateway read first verifies', async () => {
    const t = setup({ create: 'ES256' });
    const here = await t.open();
    const kid = await writeNewKey(t.dir, 'ES256', T0 + 1000, T0 + 1000); // activated at once, e.g. publishBefore passed
    t.clock.set(T0 + 1000);
    const there = await t.open();
    expect(there.active.kid).toBe(kid);
    const token = await signToken(claims(T0 + 1000), there.active);
    const reads = here.reads;
    const results = await Promise.all(Array.from({ length: 20 }, () => verifyToken(token, here, verifyOpts(T0 + 1000))));
    expect(results.every((c) => c.sub === 'agents')).toBe(true);
    expect(here.reads).toBe(reads + 1);
    // Forged kids re-read at most once per interval, however many arrive.
    const before = here.reads;
    await Promise.all(Array.from({ length: 50 }, (_, i) => here.resolve(`forged-${i}`)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => here.resolve(`forged-again-${i}`)));
    expect(here.reads - before).toBe(2);
  });

  it('logs and skips corrupt and foreign files naming them; the ring keeps working', async () => {
    const t = setup({ create: 'ES256' });
    const ring = await t.open();
    const kid = ring.active.kid;
    const ec384 = await exportJWK((await generateKeyPair('ES384', { extractable: true })).privateKey);
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
    const p256a = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const p256b = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const { d: _d, ...publicOnly } = p256a;
    const files: Record<string, string> = {
      'garbage.jwk.json': '{"kty":"EC", half a fil',
      'notes.txt': 'hello',
      'public.jwk.json': JSON.stringify(publicOnly),
      'p384.jwk.json': JSON.stringify(ec384),
      'rsa1024.jwk.json': JSON.stringify(rsa1024),
      'mismatched.jwk.json': JSON.stringify({ ...p256a, d: p256b.d }),
      'wrong-alg.jwk.json': JSON.stringify({ ...p256b, alg: 'RS256' }),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(t.dir, name), text);
    await ring.refresh();
    const skipped = t.lines.filter((l) => l.event === 'key_file_skipped');
    expect(skipped.map((l) => l.file).sort()).toEqual(Object.keys(files).map((f) => join(t.dir, f)).sort());
    const reason = (f: string) => skipped.find((l) => l.file === join(t.dir, f))!.reason;
    expect(reason('garbage.jwk.json')).toBe('not JSON');
    expect(reason('notes.txt')).toMatch(/not a <kid>\.jwk\.json file/);
    expect(reason('public.jwk.json')).toMatch(/no private key/);
    expect(reason('p384.jwk.json')).toMatch(/P-384/);
    expect(reason('rsa1024.jwk.json')).toMatch(/2048/);
    expect(reason('mismatched.jwk.json')).toMatch(/key pair/);
    expect(reason('wrong-alg.jwk.json')).toMatch(/alg RS256/);
    // Never any key material in the log.
    expect(JSON.stringify(t.lines)).not.toContain(p256b.d);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([kid]);
    expect(ring.problems()).toHaveLength(Object.keys(files).length);
    // Unchanged bad files are not logged again at every read.
    await ring.refresh();
    expect(t.lines.filter((l) => l.event === 'key_file_skipped')).toHaveLength(skipped.length);
  });

  it('keeps a loaded key whose file turns corrupt; removing the file withdraws it', async () => {
    const t = setup({ create: 'ES256' });
    const ring = await t.open();
    const old = ring.active.kid;
    const kid = await writeNewKey(t.dir, 'ES256', T0, T0 + HOUR);
    await ring.refresh();
    const file = join(t.dir, `${kid}.jwk.json`);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, 40)); // an editor writing in place, caught half way
    await ring.refresh();
    expect(ring.byKid(kid)).toBeDefined();
    expect(t.lines.find((l) => l.event === 'key_file_skipped')).toMatchObject({ file, kid, reason: 'not JSON' });
    writeFileSync(file, text);
    await ring.refresh();
    expect(ring.problems()).toEqual([]);
    rmSync(file);
    await ring.refresh();
    expect(ring.byKid(kid)).toBeUndefined();
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([old]);
    expect(t.lines.find((l) => l.event === 'key_file_removed')).toMatchObject({ file, kid });
    // A directory emptied all at once (a volume or secret remounting) keeps the keys loaded.
    rmSync(join(t.dir, `${old}.jwk.json`));
    await ring.refresh();
    expect(ring.active.kid).toBe(old);
    expect(t.lines.find((l) => l.event === 'keys_dir_empty')).toMatchObject({ dir: t.dir });
  });

  it('a leaked key withdrawn by deleting its file: its tokens die even when verified before; the newest remaining activated key signs, else the next one', async () => {
    const t = setup({ create: 'ES256' });
    const ring = await t.open();
    const first = ring.active.kid;
    const leaked = await writeNewKey(t.dir, 'ES256', T0 + 1000, T0 + 1000);
    const next = await writeNewKey(t.dir, 'ES256', T0 + 2000, T0 + HOUR);
    t.clock.set(T0 + 2000);
    await ring.refresh();
    expect(ring.active.kid).toBe(leaked);
    const cache = new BoundedMap<string, AccessClaims>(10);
    const token = await signToken(claims(t.clock.now()), ring.active);
    await verifyToken(token, ring, { ...verifyOpts(t.clock.now()), cache });
    expect(cache.size).toBe(1); // verified and remembered (by the digest of its text)
    rmSync(join(t.dir, `${leaked}.jwk.json`));
    await ring.refresh();
    expect(await refusal(verifyToken(token, ring, { ...verifyOpts(t.clock.now()), cache }))).toBe('token_key_unknown');
    expect(ring.active.kid).toBe(first); // still published (retiring), so downstreams know it
    rmSync(join(t.dir, `${first}.jwk.json`));
    await ring.refresh();
    expect(ring.active.kid).toBe(next); // no activated key left: the next one signs early
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([next]);
  });

  it('refuses to start when keys.dir holds key files but none is usable, naming them', async () => {
    const t = setup({ create: 'ES256' });
    mkdirSync(t.dir, { recursive: true });
    writeFileSync(join(t.dir, 'broken.jwk.json'), 'nope');
    await expect(t.open()).rejects.toThrow(/broken\.jwk\.json: not JSON/);
    expect(readdirSync(t.dir)).toEqual(['broken.jwk.json']);
  });
});
