import { describe, expect, it } from 'vitest';
import { LeafAdmission } from '../../src/http/leaf-admission.js';
import { ParsedCertCache } from '../../src/pki/parsing/parse-cache.js';
import { makeTestPki } from '../helpers/pki.js';

/** The parse cache keeps a client certificate from its second login on, intermediates at once. */
describe('leaf admission to the parse cache', () => {
  it('parses a first-seen leaf without keeping it, keeps it when it comes back', async () => {
    const pki = await makeTestPki();
    const leaf = await pki.leaf({ cn: 'agent-1' });
    const certs = new ParsedCertCache();
    const admission = new LeafAdmission();

    const first = certs.parse(leaf.der, admission.admit);
    expect(first.commonNames).toEqual(['agent-1']);
    expect(certs.size).toBe(0);
    const second = certs.parse(leaf.der, admission.admit);
    expect(certs.size).toBe(1);
    expect(certs.parse(leaf.der, admission.admit)).toBe(second); // a cache hit from now on
    // Without an admission rule (intermediates) a certificate is kept on first sight.
    certs.parse(pki.interA.der);
    expect(certs.size).toBe(2);
  });
});
