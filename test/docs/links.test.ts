/**
 * The docs cannot rot silently: every file of docs/ is linked from the README, every relative
 * link resolves, every `src/…` and `test/…` path a doc names exists, and every row of the threat
 * model names at least one test file that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/terminators.js';

const DOCS = join(REPO_ROOT, 'docs');
const docFiles = readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort();
const read = (file: string) => readFileSync(file, 'utf8');
const readme = read(join(REPO_ROOT, 'README.md'));

/** `a/{b,c}.ts` → `a/b.ts`, `a/c.ts` (the threat model abbreviates sibling tests this way). */
function expandBraces(path: string): string[] {
  const m = /\{([^}]*)\}/.exec(path);
  if (!m) return [path];
  return m[1]!.split(',').flatMap((alt) => expandBraces(path.slice(0, m.index) + alt + path.slice(m.index + m[0].length)));
}

/** Repository paths a document names in code spans: `src/…`, `test/…`. */
function namedPaths(text: string): string[] {
  const spans = [...text.matchAll(/`((?:src|test)\/[^`\s]*)`/g)].map((m) => m[1]!);
  // `test/e2e/<product>.test.ts` is a pattern, not a path.
  return [...new Set(spans.flatMap(expandBraces))].filter((p) => !p.includes('<'));
}

/** Relative links of a Markdown document: [text](target), without anchors. */
function relativeLinks(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!.split('#')[0]!).filter((t) => t && !/^[a-z]+:/i.test(t));
}

describe('documentation links and paths', () => {
  it('the README links every document of docs/', () => {
    expect(docFiles.length).toBeGreaterThanOrEqual(8);
    const linked = new Set(relativeLinks(readme).map((l) => resolve(REPO_ROOT, l)));
    expect(docFiles.filter((f) => !linked.has(join(DOCS, f)))).toEqual([]);
  });

  it('every relative link of the README and of docs/ resolves', () => {
    const broken: string[] = [];
    for (const file of [join(REPO_ROOT, 'README.md'), ...docFiles.map((f) => join(DOCS, f))]) {
      for (const link of relativeLinks(read(file))) {
        if (!existsSync(resolve(dirname(file), link))) broken.push(`${file}: ${link}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every src/ and test/ path named in docs/ exists', () => {
    const missing: string[] = [];
    for (const f of docFiles) {
      for (const p of namedPaths(read(join(DOCS, f)))) {
        if (!existsSync(join(REPO_ROOT, p))) missing.push(`docs/${f}: ${p}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every item of the threat model names test files, and each exists', () => {
    const model = read(join(DOCS, 'threat-model.md'));
    const table = model.slice(model.indexOf('## Issue 7'), model.indexOf('## Invariants'));
    const rows = table.split('\n').filter((l) => /^\| (\d|also|limbo)/.test(l));
    // Defects 1–8, the four "also" items and the limbo suite.
    expect(rows.length).toBe(13);
    for (const row of rows) {
      const tests = namedPaths(row.split(' | ').at(-1)!).filter((p) => p.startsWith('test/'));
      expect(tests.length, row.slice(0, 60)).toBeGreaterThan(0);
      for (const t of tests) expect(existsSync(join(REPO_ROOT, t)), t).toBe(true);
    }
  });
});
