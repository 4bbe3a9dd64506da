import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrlFetcher, type CrlFetcher } from '../../src/revocation/fetch.js';
import { CrlUrlCache } from '../../src/revocation/cache.js';
import { ManualClock } from '../../src/util/clock.js';
import { makeTestPki } from '../helpers/pki.js';
import { closedPort, DAY, HOUR, makeCrl, startCrlServer, type CrlServer } from './crl-fixtures.js';

/** The undici CRL fetcher against a real node:http server on 127.0.0.1. */

let srv: CrlServer;
let fetcher: CrlFetcher;
const reason = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.message);

beforeAll(async () => {
  srv = await startCrlServer();
  fetcher = createCrlFetcher({ timeoutMs: 400, maxBytes: 1024 });
  srv.files.set('/ok.crl', new Uint8Array([1, 2, 3]));
  srv.handlers.set('/hang', () => {}); // never answers
  srv.handlers.set('/slow-body', (_req, res) => {
    res.writeHead(200, { 'content-length': 100 });
    res.write(Buffer.alloc(10)); // and never the rest
  });
  srv.handlers.set('/big-declared', (_req, res) => void res.writeHead(200, { 'content-length': 5000 }).end(Buffer.alloc(5000)));
  srv.handlers.set('/big-chunked', (_req, res) => {
    res.writeHead(200);
    for (let i = 0; i < 10; i++) res.write(Buffer.alloc(512));
    res.end();
  });
  srv.handlers.set('/moved', (_req, res) => void res.writeHead(302, { location: '/ok.crl' }).end());
  srv.handlers.set('/to-ldap', (_req, res) => void res.writeHead(301, { location: 'ldap://dir.example/cn=crl' }).end());
  srv.handlers.set('/loop', (_req, res) => void res.writeHead(307, { location: '/loop' }).end());
});
afterAll(async () => {
  await fetcher?.close();
  await srv?.stop();
});

describe('createCrlFetcher', () => {
  it('returns the body of a 200', async () => {
    expect(Array.from(await fetcher.fetch(srv.url('/ok.crl')))).toEqual([1, 2, 3]);
  });

  it('fetches only http and https URLs', async () => {
    expect(await reason(fetcher.fetch('ldap://dir.example/cn=crl'))).toMatch(/only http and https/);
    expect(await reason(fetcher.fetch('file:///etc/passwd'))).toMatch(/only http and https/);
    expect(await reason(fetcher.fetch('not a url'))).toMatch(/not a valid URL/);
  });

  it('refuses non-200 answers, naming the status', async () => {
    expect(await reason(fetcher.fetch(srv.url('/missing.crl')))).toBe('HTTP 404');
  });

  it('bounds the time: no answer, or a body that stalls', async () => {
    const t = Date.now();
    expect(await reason(fetcher.fetch(srv.url('/hang')))).toMatch(/timed out after 400 ms/);
    expect(await reason(fetcher.fetch(srv.url('/slow-body')))).toMatch(/timed out after 400 ms/);
    expect(Date.now() - t).toBeLessThan(3000);
  });

  it('bounds the size, declared or streamed', async () => {
    expect(await reason(fetcher.fetch(srv.url('/big-declared')))).toMatch(/larger than 1024 bytes/);
    expect(await reason(fetcher.fetch(srv.url('/big-chunked')))).toMatch(/larger than 1024 bytes/);
  });

  it('follows a few http redirects, never to another scheme', async () => {
    expect(Array.from(await fetcher.fetch(srv.url('/moved')))).toEqual([1, 2, 3]);
    expect(await reason(fetcher.fetch(srv.url('/to-ldap')))).toMatch(/only http and https/);
    expect(await reason(fetcher.fetch(srv.url('/loop')))).toMatch(/more than 3 redirects/);
  });

  it('reports a refused connection', async () => {
    expect(await reason(fetcher.fetch(`http://127.0.0.1:${await closedPort()}/x.crl`))).toMatch(/ECONNREFUSED/);
  });
});

describe('CrlUrlCache', () => {
  it('keeps an unparsable answer only for the retry interval, and shares concurrent fetches', async () => {
    const clock = new ManualClock(1_000_000);
    let loads = 0;
    const cache = new CrlUrlCache({ clock, retryMs: 5000, load: async () => { loads++; return new Uint8Array([9]); } });
    await Promise.all([cache.get('u'), cache.get('u'), cache.get('u')]);
    expect(loads).toBe(1);
    clock.advance(4999);
    await cache.get('u');
    expect(loads).toBe(1);
    clock.advance(2);
    await cache.get('u');
    expect(loads).toBe(2);
  });

  it('serves the last good copy when a refetch fails, and throws when it never had one', async () => {
    const clock = new ManualClock(0);
    let fail = false;
    const cache = new CrlUrlCache({ clock, retryMs: 1000, load: async () => { if (fail) throw new Error('boom'); return new Uint8Array([7]); } });
    expect(Array.from(await cache.get('a'))).toEqual([7]);
    fail = true;
    clock.advance(2000);
    expect(Array.from(await cache.get('a'))).toEqual([7]);
    await expect(cache.get('b')).rejects.toThrow('boom');
  });

  it('refetches a CRL without nextUpdate hourly, and every retryMs once it is past thisUpdate + 24 h', async () => {
    const pki = await makeTestPki();
    const t0 = 10 * DAY;
    const clock = new ManualClock(t0);
    const bytes = await makeCrl(pki.interA, { thisUpdate: new Date(t0 - 2 * HOUR), nextUpdate: null });
    let loads = 0;
    const cache = new CrlUrlCache({ clock, retryMs: 1000, load: async () => { loads++; return bytes; } });
    await cache.get('u');
    clock.advance(HOUR - 1);
    await cache.get('u');
    expect(loads).toBe(1);
    clock.advance(2);
    await cache.get('u');
    expect(loads).toBe(2);
    // Past thisUpdate + 24 h the copy is no longer kept for an hour, only for the retry interval.
    clock.set(t0 + DAY);
    await cache.get('u');
    expect(loads).toBe(3);
    clock.advance(1001);
    await cache.get('u');
    expect(loads).toBe(4);
  });

  it('is bounded by entry count', async () => {
    const cache = new CrlUrlCache({ clock: new ManualClock(0), maxEntries: 2, load: async () => new Uint8Array([1]) });
    for (const u of ['a', 'b', 'c', 'd']) await cache.get(u);
    expect(cache.size).toBe(2);
  });
});
