import { beforeAll, describe, expect, it } from 'vitest';
import { KeyUsageFlags } from '@peculiar/x509';
import { parseCertificate, parsePemBundle as parsePem, type ParsedCert } from '../../../src/pki/parsing/certificate.js';
import { basicPki, DAY, mint, outcome, tamperSignature, type Outcome } from '../pki-fixtures.js';

type Pki = Awaited<ReturnType<typeof basicPki>>;
interface Row { name: string; build: (p: Pki) => Promise<{ leaf: ParsedCert; presented?: ParsedCert[]; bundle: ParsedCert[]; now?: Date }>; want: Outcome }

const past = (days: number) => new Date(Date.now() - days * DAY);

// Path-building and per-certificate checks, one row per scenario (the style of Vault's cert backend tests).
const rows: Row[] = [
  {
    name: 'chain through a presented intermediate',
    build: async ({ root, int, leaf }) => ({ leaf: leaf.parsed, presented: [int.parsed], bundle: [root.parsed] }),
    want: { code: 'ok', path: ['agent-1', 'Test Intermediate', 'Test Root'] },
  },
  {
    name: 'intermediate only in the bundle',
    build: async ({ root, int, leaf }) => ({ leaf: leaf.parsed, bundle: [root.parsed, int.parsed] }),
    want: { code: 'ok', path: ['agent-1', 'Test Intermediate'] },
  },
  {
    name: 'an intermediate alone is a trust anchor',
    build: async ({ int, leaf }) => ({ leaf: leaf.parsed, bundle: [int.parsed] }),
    want: { code: 'ok', path: ['agent-1', 'Test Intermediate'] },
  },
  {
    name: 'missing intermediate',
    build: async ({ root, leaf }) => ({ leaf: leaf.parsed, bundle: [root.parsed] }),
    want: { code: 'chain_incomplete' },
  },
  {
    name: 'unknown issuer',
    build: async ({ leaf }) => ({ leaf: leaf.parsed, bundle: [(await basicPki('Other')).root.parsed] }),
    want: { code: 'chain_incomplete' },
  },
  {
    name: 'multi-root bundle, anchor is the 3rd certificate',
    build: async ({ root, int, leaf }) => {
      const others = [(await basicPki('A')).root.parsed, (await basicPki('B')).root.parsed];
      const pem = [...others.map((c) => toPem(c)), toPem(root.parsed)].join('');
      return { leaf: leaf.parsed, presented: [int.parsed], bundle: parsePem(pem) };
    },
    want: { code: 'ok', path: ['agent-1', 'Test Intermediate', 'Test Root'] },
  },
  {
    name: 'expired leaf',
    build: async ({ root, int }) => ({ leaf: (await mint({ subject: 'CN=old', issuer: int, notBefore: past(10), notAfter: past(1) })).parsed, presented: [int.parsed], bundle: [root.parsed] }),
    want: { code: 'certificate_expired' },
  },
  {
    name: 'not-yet-valid leaf',
    build: async ({ root, int }) => ({ leaf: (await mint({ subject: 'CN=new', issuer: int, notBefore: past(-1), notAfter: past(-10) })).parsed, presented: [int.parsed], bundle: [root.parsed] }),
    want: { code: 'certificate_not_yet_valid' },
  },
  {
    name: 'expired intermediate',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=Old Int', ca: true, issuer: root, notBefore: past(10), notAfter: past(1) });
      const leaf = await mint({ subject: 'CN=agent', issuer: int });
      return { leaf: leaf.parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'issuer_expired' },
  },
  {
    name: 'expired intermediate beats chain_incomplete from a sibling branch',
    build: async ({ root }) => {
      // Same DN and key, one expired under the trusted root, one valid under an untrusted root.
      const expired = await mint({ subject: 'CN=Int', ca: true, issuer: root, notBefore: past(10), notAfter: past(1) });
      const elsewhere = await mint({ subject: 'CN=Int', ca: true, issuer: (await basicPki('Untrusted')).root, keys: expired.keys });
      const leaf = await mint({ subject: 'CN=agent', issuer: expired });
      return { leaf: leaf.parsed, presented: [elsewhere.parsed, expired.parsed], bundle: [root.parsed] };
    },
    want: { code: 'issuer_expired' },
  },
  {
    name: 'a valid sibling path is found after an expired one',
    build: async ({ root }) => {
      const expired = await mint({ subject: 'CN=Int', ca: true, issuer: root, notBefore: past(10), notAfter: past(1) });
      const renewed = await mint({ subject: 'CN=Int', ca: true, issuer: root, keys: expired.keys });
      const leaf = await mint({ subject: 'CN=agent', issuer: expired });
      return { leaf: leaf.parsed, presented: [expired.parsed, renewed.parsed], bundle: [root.parsed] };
    },
    want: { code: 'ok', path: ['agent', 'Int', 'Test Root'] },
  },
  {
    name: 'not-yet-valid intermediate',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=Future Int', ca: true, issuer: root, notBefore: past(-1), notAfter: past(-10) });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'issuer_not_yet_valid' },
  },
  {
    name: 'expired trust anchor',
    build: async () => {
      const root = await mint({ subject: 'CN=Old Root', ca: true, notBefore: past(10), notAfter: past(1) });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: root })).parsed, bundle: [root.parsed] };
    },
    want: { code: 'issuer_expired' },
  },
  {
    name: 'forged issuer: the trusted root DN with another key, presented by the client',
    build: async ({ root }) => {
      const fake = await mint({ subject: root.subject, ca: true });
      const leaf = await mint({ subject: 'CN=agent', issuer: fake });
      return { leaf: leaf.parsed, presented: [fake.parsed], bundle: [root.parsed] };
    },
    want: { code: 'signature_invalid' },
  },
  {
    name: 'forged issuer: leaf names the root (DN and AKI) but another key signed it',
    build: async ({ root }) => {
      const rogue = await mint({ subject: 'CN=Rogue', ca: true });
      const leaf = await mint({ subject: 'CN=agent', issuer: root, signWith: rogue.keys.privateKey });
      return { leaf: leaf.parsed, bundle: [root.parsed] };
    },
    want: { code: 'signature_invalid' },
  },
  {
    name: 'tampered signature',
    build: async ({ root, int, leaf }) => ({ leaf: parseCertificate(tamperSignature(leaf.der)), presented: [int.parsed], bundle: [root.parsed] }),
    want: { code: 'signature_invalid' },
  },
  {
    name: 'tampered intermediate signature',
    build: async ({ root, int, leaf }) => ({ leaf: leaf.parsed, presented: [parseCertificate(tamperSignature(int.der))], bundle: [root.parsed] }),
    want: { code: 'signature_invalid' },
  },
  {
    name: 'non-CA intermediate (cA=false, keyCertSign set)',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=Not CA', issuer: root, ca: false, keyUsage: KeyUsageFlags.keyCertSign, eku: [] });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'issuer_not_ca' },
  },
  {
    name: 'intermediate without basicConstraints',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=No BC', issuer: root, omitBasicConstraints: true, keyUsage: KeyUsageFlags.keyCertSign, eku: [] });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'issuer_not_ca' },
  },
  {
    name: 'CA intermediate whose keyUsage lacks keyCertSign',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=No KCS', issuer: root, ca: true, keyUsage: KeyUsageFlags.digitalSignature });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'issuer_not_ca' },
  },
  {
    name: 'CA intermediate without keyUsage is accepted',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=No KU', issuer: root, ca: true, omitKeyUsage: true });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'ok', path: ['agent', 'No KU', 'Test Root'] },
  },
  {
    name: 'root pathLen 0 violated by an intermediate',
    build: async () => {
      const root = await mint({ subject: 'CN=PL0 Root', ca: true, pathLen: 0 });
      const int = await mint({ subject: 'CN=PL Int', ca: true, issuer: root });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'path_length_exceeded' },
  },
  {
    name: 'intermediate pathLen 0 issuing the leaf directly is fine',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=PL0 Int', ca: true, pathLen: 0, issuer: root });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'ok', path: ['agent', 'PL0 Int', 'Test Root'] },
  },
  {
    name: 'EKU serverAuth only is refused',
    build: async ({ root }) => ({ leaf: (await mint({ subject: 'CN=srv', issuer: root, eku: ['serverAuth'] })).parsed, bundle: [root.parsed] }),
    want: { code: 'extended_key_usage_not_allowed' },
  },
  {
    name: 'no EKU is accepted',
    build: async ({ root }) => ({ leaf: (await mint({ subject: 'CN=any', issuer: root, eku: [] })).parsed, bundle: [root.parsed] }),
    want: { code: 'ok', path: ['any', 'Test Root'] },
  },
  {
    name: 'anyExtendedKeyUsage is accepted',
    build: async ({ root }) => ({ leaf: (await mint({ subject: 'CN=anyeku', issuer: root, eku: ['anyExtendedKeyUsage'] })).parsed, bundle: [root.parsed] }),
    want: { code: 'ok', path: ['anyeku', 'Test Root'] },
  },
  // keyUsage of the leaf: TLS client authentication signs the handshake with the key.
  ...([
    ['keyUsage digitalSignature', KeyUsageFlags.digitalSignature, 'ok'],
    ['keyUsage digitalSignature + keyEncipherment', KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, 'ok'],
    ['keyUsage keyEncipherment only', KeyUsageFlags.keyEncipherment, 'key_usage_not_allowed'],
    ['keyUsage keyAgreement only', KeyUsageFlags.keyAgreement, 'key_usage_not_allowed'],
    ['keyUsage nonRepudiation only', KeyUsageFlags.nonRepudiation, 'key_usage_not_allowed'],
  ] as const).map(([label, keyUsage, code]): Row => ({
    name: `leaf ${label}: ${code}`,
    build: async ({ root }) => ({ leaf: (await mint({ subject: 'CN=ku', issuer: root, keyUsage })).parsed, bundle: [root.parsed] }),
    want: code === 'ok' ? { code, path: ['ku', 'Test Root'] } : { code },
  })),
  {
    name: 'leaf without keyUsage is accepted',
    build: async ({ root }) => ({ leaf: (await mint({ subject: 'CN=noku', issuer: root, omitKeyUsage: true })).parsed, bundle: [root.parsed] }),
    want: { code: 'ok', path: ['noku', 'Test Root'] },
  },
  {
    name: 'a pinned leaf whose keyUsage lacks digitalSignature is refused too',
    build: async () => {
      const pinned = await mint({ subject: 'CN=pinned-ku', keyUsage: KeyUsageFlags.keyEncipherment });
      return { leaf: pinned.parsed, bundle: [pinned.parsed] };
    },
    want: { code: 'key_usage_not_allowed' },
  },
  // EKUs nest: a CA whose EKU extension lacks clientAuth (and anyExtendedKeyUsage) cannot issue client certificates.
  ...([
    ['intermediate EKU serverAuth only', ['serverAuth'], 'extended_key_usage_not_allowed'],
    ['intermediate EKU emailProtection + codeSigning', ['1.3.6.1.5.5.7.3.4', '1.3.6.1.5.5.7.3.3'], 'extended_key_usage_not_allowed'],
    ['intermediate EKU serverAuth + clientAuth', ['serverAuth', 'clientAuth'], 'ok'],
    ['intermediate EKU anyExtendedKeyUsage', ['anyExtendedKeyUsage'], 'ok'],
    ['intermediate without EKU', [], 'ok'],
  ] as const).map(([label, eku, code]): Row => ({
    name: `${label}: ${code}`,
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=EKU Int', ca: true, issuer: root, eku: [...eku] });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, presented: [int.parsed], bundle: [root.parsed] };
    },
    want: code === 'ok' ? { code, path: ['agent', 'EKU Int', 'Test Root'] } : { code },
  })),
  {
    name: 'trust anchor EKU serverAuth only (leaf clientAuth): refused',
    build: async () => {
      const anchor = await mint({ subject: 'CN=Server Root', ca: true, eku: ['serverAuth'] });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: anchor })).parsed, bundle: [anchor.parsed] };
    },
    want: { code: 'extended_key_usage_not_allowed' },
  },
  {
    name: 'intermediate as trust anchor with EKU serverAuth only: refused',
    build: async ({ root }) => {
      const int = await mint({ subject: 'CN=Server Int', ca: true, issuer: root, eku: ['serverAuth'] });
      return { leaf: (await mint({ subject: 'CN=agent', issuer: int })).parsed, bundle: [int.parsed] };
    },
    want: { code: 'extended_key_usage_not_allowed' },
  },
  {
    name: 'a clientAuth path is found beside a serverAuth-only cross-signed intermediate of the same key',
    build: async ({ root }) => {
      const serverOnly = await mint({ subject: 'CN=Cross Int', ca: true, issuer: root, eku: ['serverAuth'] });
      const clientOk = await mint({ subject: 'CN=Cross Int', ca: true, issuer: root, keys: serverOnly.keys, eku: ['clientAuth'] });
      const leaf = await mint({ subject: 'CN=agent', issuer: serverOnly });
      return { leaf: leaf.parsed, presented: [serverOnly.parsed, clientOk.parsed], bundle: [root.parsed] };
    },
    want: { code: 'ok', path: ['agent', 'Cross Int', 'Test Root'] },
  },
  {
    name: 'CA certificate as the client certificate',
    build: async ({ root, int }) => ({ leaf: int.parsed, bundle: [root.parsed] }),
    want: { code: 'ca_certificate_as_client' },
  },
  {
    name: 'a pinned leaf in the bundle is its own anchor',
    build: async ({ root, leaf }) => ({ leaf: leaf.parsed, bundle: [root.parsed, leaf.parsed] }),
    want: { code: 'ok', path: ['agent-1'] },
  },
  {
    name: 'self-signed leaf not in the bundle',
    build: async ({ root }) => ({ leaf: (await mint({ subject: 'CN=selfie' })).parsed, bundle: [root.parsed] }),
    want: { code: 'chain_incomplete' },
  },
  {
    name: 'an irrelevant stranger among the presented certificates is ignored',
    build: async ({ root, int, leaf }) => {
      const stranger = await basicPki('Stranger');
      return { leaf: leaf.parsed, presented: [stranger.leaf.parsed, stranger.int.parsed, int.parsed], bundle: [root.parsed] };
    },
    want: { code: 'ok', path: ['agent-1', 'Test Intermediate', 'Test Root'] },
  },
];

function toPem(c: ParsedCert): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(c.der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

describe('validateClientChain', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await basicPki();
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const got = outcome(await row.build(pki));
    expect({ code: got.code, path: got.path }, got.message).toEqual({ code: row.want.code, path: row.want.path });
  });
});
