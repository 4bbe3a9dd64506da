import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_EVENTS } from '../../src/audit/events.js';
import { REPO_ROOT } from '../helpers/terminators.js';

/** docs/audit-events.md and src/audit/events.ts describe the same events, levels and fields. */
interface Documented {
  level?: string;
  fields: string[];
}

function parseDoc(text: string): Map<string, Documented> {
  const events = new Map<string, Documented>();
  let current: Documented | undefined;
  for (const line of text.split('\n')) {
    const heading = /^## `([a-z_]+)`\s*$/.exec(line);
    if (heading) {
      current = { fields: [] };
      events.set(heading[1]!, current);
      continue;
    }
    if (!current) continue;
    const level = /^- level: (\w+)/.exec(line);
    if (level) current.level = level[1];
    const field = /^\| `([A-Za-z0-9_]+)` \|/.exec(line);
    if (field) current.fields.push(field[1]!);
  }
  return events;
}

describe('audit catalogue', () => {
  const documented = parseDoc(readFileSync(join(REPO_ROOT, 'docs', 'audit-events.md'), 'utf8'));

  it('documents exactly the events of the catalogue', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(AUDIT_EVENTS).sort());
  });

  it.each(Object.entries(AUDIT_EVENTS))('documents %s with its level and exactly its fields', (name, spec) => {
    const doc = documented.get(name);
    expect(doc, `docs/audit-events.md has no section for ${name}`).toBeDefined();
    expect(doc!.level).toBe(spec.level);
    expect([...doc!.fields].sort()).toEqual([...spec.fields].sort());
  });
});
