import { beforeAll, describe, expect, it } from 'vitest';
import type { MintOptions, SanEntry } from '../../../src/pki/mint.js';
import { mint, outcome } from '../pki-fixtures.js';

type Constraints = NonNullable<MintOptions['nameConstraints']>;
interface Row { name: string; nc: Constraints; san: SanEntry[]; subject?: string; want: 'ok' | 'name_constraints_violated' }

const dns = (value: string): SanEntry => ({ type: 'dns', value });
const email = (value: string): SanEntry => ({ type: 'email', value });
const uri = (value: string): SanEntry => ({ type: 'uri', value });
const ip = (value: string): SanEntry => ({ type: 'ip', value });
const V = 'name_constraints_violated' as const;

// RFC 5280 4.2.1.10 semantics per name form; each row: intermediate constraints + leaf SANs.
const rows: Row[] = [
  { name: 'DNS permitted: subdomain', nc: { permitted: [dns('corp.example')] }, san: [dns('a.corp.example')], want: 'ok' },
  { name: 'DNS permitted: the domain itself', nc: { permitted: [dns('corp.example')] }, san: [dns('corp.example')], want: 'ok' },
  { name: 'DNS permitted: case-insensitive', nc: { permitted: [dns('corp.example')] }, san: [dns('A.CORP.Example')], want: 'ok' },
  { name: 'DNS permitted: outside', nc: { permitted: [dns('corp.example')] }, san: [dns('evil.example')], want: V },
  { name: 'DNS permitted: suffix without label boundary', nc: { permitted: [dns('corp.example')] }, san: [dns('evilcorp.example')], want: V },
  { name: 'DNS permitted: one SAN outside is enough to refuse', nc: { permitted: [dns('corp.example')] }, san: [dns('a.corp.example'), dns('b.evil.example')], want: V },
  { name: 'DNS permitted with leading dot: subdomains only', nc: { permitted: [dns('.corp.example')] }, san: [dns('corp.example')], want: V },
  { name: 'DNS excluded: inside', nc: { excluded: [dns('bad.corp.example')] }, san: [dns('x.bad.corp.example')], want: V },
  { name: 'DNS excluded: outside', nc: { excluded: [dns('bad.corp.example')] }, san: [dns('good.corp.example')], want: 'ok' },
  { name: 'DNS excluded wins over permitted', nc: { permitted: [dns('corp.example')], excluded: [dns('bad.corp.example')] }, san: [dns('bad.corp.example')], want: V },
  { name: 'DNS excluded: a wildcard covering the excluded host', nc: { excluded: [dns('bad.corp.example')] }, san: [dns('*.corp.example')], want: V },
  { name: 'DNS constraints do not restrict other name forms', nc: { permitted: [dns('corp.example')] }, san: [email('a@elsewhere.example')], want: 'ok' },
  { name: 'email permitted: host', nc: { permitted: [email('corp.example')] }, san: [email('a@corp.example')], want: 'ok' },
  { name: 'email permitted: host does not cover subdomains', nc: { permitted: [email('corp.example')] }, san: [email('a@sub.corp.example')], want: V },
  { name: 'email permitted: .domain covers subdomains', nc: { permitted: [email('.corp.example')] }, san: [email('a@sub.corp.example')], want: 'ok' },
  { name: 'email permitted: exact mailbox', nc: { permitted: [email('a@corp.example')] }, san: [email('b@corp.example')], want: V },
  { name: 'email excluded: host', nc: { excluded: [email('corp.example')] }, san: [email('a@corp.example')], want: V },
  { name: 'email excluded: malformed SAN is refused', nc: { excluded: [email('corp.example')] }, san: [email('a@b@elsewhere.example')], want: V },
  { name: 'email constraint applies to the subject emailAddress', nc: { permitted: [email('corp.example')] }, san: [], subject: 'CN=a, E=a@evil.example', want: V },
  { name: 'URI permitted: exact host', nc: { permitted: [uri('trust.corp')] }, san: [uri('spiffe://trust.corp/agent')], want: 'ok' },
  { name: 'URI permitted: other host', nc: { permitted: [uri('trust.corp')] }, san: [uri('spiffe://evil.corp/agent')], want: V },
  { name: 'URI permitted: .domain covers subdomains', nc: { permitted: [uri('.corp')] }, san: [uri('https://a.corp/x')], want: 'ok' },
  { name: 'URI permitted: URI without host', nc: { permitted: [uri('trust.corp')] }, san: [uri('urn:uuid:1234')], want: V },
  { name: 'IP permitted: inside the range', nc: { permitted: [ip('10.0.0.0/8')] }, san: [ip('10.1.2.3')], want: 'ok' },
  { name: 'IP permitted: outside the range', nc: { permitted: [ip('10.0.0.0/8')] }, san: [ip('192.168.1.1')], want: V },
  { name: 'IP permitted: IPv6 name against an IPv4 range', nc: { permitted: [ip('10.0.0.0/8')] }, san: [ip('::1')], want: V },
  { name: 'IP excluded: IPv6 range', nc: { excluded: [ip('fd00::/8')] }, san: [ip('fd12::1')], want: V },
  // Issue 7, defect 5: an IPv4-mapped IPv6 SAN is the IPv4 address it maps, for constraints as for policy.
  { name: 'IP excluded: IPv4-mapped IPv6 SAN inside an excluded IPv4 range', nc: { excluded: [ip('10.0.0.0/8')] }, san: [ip('::ffff:10.1.2.3')], want: V },
  { name: 'IP excluded: IPv4-mapped IPv6 SAN outside the excluded IPv4 range', nc: { excluded: [ip('10.0.0.0/8')] }, san: [ip('::ffff:192.168.1.1')], want: 'ok' },
  { name: 'IP permitted: IPv4-mapped IPv6 SAN inside a permitted IPv4 range', nc: { permitted: [ip('10.0.0.0/8')] }, san: [ip('::ffff:10.1.2.3')], want: 'ok' },
  { name: 'IP permitted: IPv4-mapped IPv6 SAN outside the permitted IPv4 range', nc: { permitted: [ip('10.0.0.0/8')] }, san: [ip('::ffff:11.1.2.3')], want: V },
  { name: 'IP excluded: IPv4-mapped IPv6 SAN inside an excluded ::ffff:0:0/96', nc: { excluded: [ip('::ffff:0:0/96')] }, san: [ip('::ffff:10.1.2.3')], want: V },
];

describe('name constraints', () => {
  let root: Awaited<ReturnType<typeof mint>>;
  beforeAll(async () => {
    root = await mint({ subject: 'CN=NC Root', ca: true });
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_n, row) => {
    const int = await mint({ subject: 'CN=NC Int', ca: true, issuer: root, nameConstraints: row.nc });
    const leaf = await mint({ subject: row.subject ?? 'CN=leaf', issuer: int, san: row.san });
    const got = outcome({ leaf: leaf.parsed, presented: [int.parsed], bundle: [root.parsed] });
    expect(got.code, got.message).toBe(row.want);
  });

  it('constraints on the trust anchor itself apply', async () => {
    const anchor = await mint({ subject: 'CN=NC Anchor', ca: true, nameConstraints: { permitted: [dns('corp.example')] } });
    const bad = await mint({ subject: 'CN=leaf', issuer: anchor, san: [dns('evil.example')] });
    const good = await mint({ subject: 'CN=leaf', issuer: anchor, san: [dns('a.corp.example')] });
    expect(outcome({ leaf: bad.parsed, bundle: [anchor.parsed] }).code).toBe(V);
    expect(outcome({ leaf: good.parsed, bundle: [anchor.parsed] }).code).toBe('ok');
  });

  it('constraints of a root bind certificates two levels below it', async () => {
    const r = await mint({ subject: 'CN=NC Root 2', ca: true, nameConstraints: { excluded: [dns('bad.example')] } });
    const int = await mint({ subject: 'CN=Plain Int', ca: true, issuer: r });
    const leaf = await mint({ subject: 'CN=leaf', issuer: int, san: [dns('x.bad.example')] });
    expect(outcome({ leaf: leaf.parsed, presented: [int.parsed], bundle: [r.parsed] }).code).toBe(V);
  });
});
