import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { certgateVerdict, fullCases, outOfModel, type LimboCase, type Verdict } from './limbo-cases.js';

/**
 * Every x509-limbo case of test/fixtures/limbo/full-cases.json.gz, asked certgate's client-auth
 * question (limbo-cases.ts). Over the cases inside certgate's model: at least 95 % agreement with
 * `expected_result`, and every disagreement is one of the deliberate differences listed, with its
 * reason, in docs/x509-validation.md. Over all cases: no crash and no answer outside 4xx (a login
 * would never turn one of them into a 500).
 */
const DOC = readFileSync(new URL('../../../docs/x509-validation.md', import.meta.url), 'utf8');
/** Case ids named in the document's "Deliberate differences" table (first column, in backticks). */
const documented = new Set([...DOC.slice(DOC.indexOf('## Deliberate differences')).matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));

const cases = fullCases();
const verdicts = new Map<string, Verdict>();

describe('x509-limbo: the full fixture', () => {
  beforeAll(async () => {
    for (const c of cases) verdicts.set(c.id, await certgateVerdict(c));
  }, 120_000);

  it('holds the 208 cases of the fixture', () => {
    expect(cases).toHaveLength(208);
  });

  it.each(cases.map((c) => [c.id, c] as [string, LimboCase]))('%s: a 2xx or a stable 4xx, never a crash', (id) => {
    const v = verdicts.get(id)!;
    expect(v.status === 200 || (v.status >= 400 && v.status < 500)).toBe(true);
    expect(v.code).toMatch(/^[a-z0-9_]+$/);
  });

  it('agrees with at least 95 % of the in-model cases, and disagrees only where docs/x509-validation.md says why', () => {
    const inModel = cases.filter((c) => !outOfModel(c));
    const disagreeing = inModel.filter((c) => verdicts.get(c.id)!.result !== c.expected_result).map((c) => c.id);
    const agreement = (inModel.length - disagreeing.length) / inModel.length;
    // The figure the docs quote; a change of it must update them.
    expect(DOC).toContain(`${inModel.length - disagreeing.length} of ${inModel.length}`);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    expect(disagreeing.filter((id) => !documented.has(id))).toEqual([]);
    // Nothing listed as a difference has quietly started to agree (the list stays true).
    expect([...documented].filter((id) => !disagreeing.includes(id))).toEqual([]);
  });
});
