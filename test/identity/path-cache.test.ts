import { describe, expect, it } from 'vitest';
import { authenticateCertificate } from '../../src/identity/authenticate.js';
import { VerifiedPathCache } from '../../src/identity/path-cache.js';
import { compileIdentity } from '../../src/identity/policy.js';
import { parseCertificate } from '../../src/pki/parsing/certificate.js';
import type { RevocationChecker } from '../../src/revocation/checker.js';
import { buildConfig } from '../../src/config/load.js';
import { mintCertificate, type MintedCert } from '../../src/pki/mint.js';
import { makeTempDir } from '../helpers/launcher.js';

/**
 * The verified-path cache at the caller level (authenticateCertificate): a cached path is only
 * served while every certificate in it is valid at the injected time, for the same bundle and
 * the same presented chain; revocation is asked on every login, hit or miss.
 */
const DAY = 86_400_000;
const t0 = Date.UTC(2030, 0, 10);

const noRevocation = (): RevocationChecker & { calls: number } => {
  const r = { calls: 0, check: async () => void r.calls++, close: async () => undefined };
  return r;
};

function identities(docs: Record<string, unknown>[]) {
  const config = buildConfig({ issuer: 'https://certgate.test', keys: { dir: makeTempDir() }, identities: docs }, { baseDir: makeTempDir(), env: {} });
  return config.identities.map(compileIdentity);
}

const parsed = (m: MintedCert) => parseCertificate(m.der);

async function pki() {
  const root = await mintCertificate({ subject: 'CN=Cache Root', ca: true, notBefore: new Date(t0 - 10 * DAY), notAfter: new Date(t0 + 400 * DAY) });
  // The intermediate expires before the leaf: the path's first notAfter is the intermediate's.
  const inter = await mintCertificate({ subject: 'CN=Cache Inter', ca: true, issuer: root, notBefore: new Date(t0 - 5 * DAY), notAfter: new Date(t0 + 20 * DAY) });
  const leaf = await mintCertificate({ subject: 'CN=agent-1', issuer: inter, notBefore: new Date(t0 - DAY), notAfter: new Date(t0 + 30 * DAY) });
  return { root, inter, leaf };
}

describe('verified-path cache', () => {
  it('serves the path found before, and still asks revocation on every login', async () => {
    const { root, inter, leaf } = await pki();
    const [agents] = identities([{ id: 'agents', caCertificate: root.pem }]);
    const paths = new VerifiedPathCache();
    const revocation = noRevocation();
    const cert = { leaf: parsed(leaf), chain: [parsed(inter)] };
    const login = (now: number) => authenticateCertificate({ cert, clientIp: '127.0.0.1', identities: [agents!], now: new Date(now), revocation, paths });

    const first = await login(t0);
    expect(paths.size).toBe(1);
    expect(paths.hits).toBe(0);
    const second = await login(t0 + DAY);
    expect(paths.hits).toBe(1); // no path search this time
    expect(second.path).toEqual(first.path);
    expect(second.path[1]).toBe(cert.chain[0]); // this login's own parsed certificates
    expect(second.path.map((c) => c.subject)).toEqual(['CN=agent-1', 'CN=Cache Inter', 'CN=Cache Root']);
    expect(revocation.calls).toBe(2);
  });

  it('never serves a path once a certificate in it has expired (injected clock)', async () => {
    const { root, inter, leaf } = await pki();
    const [agents] = identities([{ id: 'agents', caCertificate: root.pem }]);
    const paths = new VerifiedPathCache();
    const cert = { leaf: parsed(leaf), chain: [parsed(inter)] };
    const login = (now: number) => authenticateCertificate({ cert, clientIp: '127.0.0.1', identities: [agents!], now: new Date(now), revocation: noRevocation(), paths });

    await login(t0);
    // The intermediate expired (day 20) while the leaf is still valid (day 30).
    await expect(login(t0 + 21 * DAY)).rejects.toMatchObject({ code: 'issuer_expired' });
    // And the leaf itself after its notAfter.
    await login(t0);
    await expect(login(t0 + 31 * DAY)).rejects.toMatchObject({ code: 'certificate_expired' });
    // A clock set back before a notBefore is refused too, not served from the cache.
    await login(t0);
    await expect(login(t0 - 2 * DAY)).rejects.toMatchObject({ code: 'certificate_not_yet_valid' });
  });

  it('is keyed by the trust bundle and the presented chain', async () => {
    const { root, inter, leaf } = await pki();
    const other = await mintCertificate({ subject: 'CN=Other Root', ca: true });
    const [agents, strangers] = identities([
      { id: 'agents', caCertificate: root.pem },
      { id: 'strangers', caCertificate: other.pem },
    ]);
    const paths = new VerifiedPathCache();
    const login = (identityId: string, chain: MintedCert[]) =>
      authenticateCertificate({ cert: { leaf: parsed(leaf), chain: chain.map(parsed) }, clientIp: '127.0.0.1', identityId, identities: [agents!, strangers!], now: new Date(t0), revocation: noRevocation(), paths });

    await login('agents', [inter]);
    // Another identity's bundle does not trust this chain: the cached success of 'agents' is not used.
    await expect(login('strangers', [inter])).rejects.toMatchObject({ code: 'chain_incomplete' });
    // Without the intermediate there is no path, whatever was cached for the chain that had it.
    await expect(login('agents', [])).rejects.toMatchObject({ code: 'chain_incomplete' });
  });

  it('keeps only successes, stays bounded, and clear() drops everything', async () => {
    const root = await mintCertificate({ subject: 'CN=Now Root', ca: true });
    const inter = await mintCertificate({ subject: 'CN=Now Inter', ca: true, issuer: root });
    const [agents] = identities([{ id: 'agents', caCertificate: root.pem }]);
    const paths = new VerifiedPathCache({ maxEntries: 3 });
    const keys = (await mintCertificate({ subject: 'CN=k', issuer: inter })).keys;
    for (let i = 0; i < 5; i++) {
      const leaf = await mintCertificate({ subject: `CN=agent-${i}`, issuer: inter, keys });
      await authenticateCertificate({ cert: { leaf: parsed(leaf), chain: [parsed(inter)] }, clientIp: '127.0.0.1', identities: [agents!], now: new Date(Date.now()), revocation: noRevocation(), paths });
    }
    expect(paths.size).toBe(3);
    const stranger = await mintCertificate({ subject: 'CN=agent-x', issuer: await mintCertificate({ subject: 'CN=Rogue', ca: true }) });
    await expect(
      authenticateCertificate({ cert: { leaf: parsed(stranger), chain: [] }, clientIp: '127.0.0.1', identities: [agents!], now: new Date(), revocation: noRevocation(), paths }),
    ).rejects.toMatchObject({ code: 'chain_incomplete' });
    expect(paths.size).toBe(3);
    paths.clear();
    expect(paths.size).toBe(0);
  });
});
