/**
 * `certgate agent` as its own process against a real certgate (redis + gateway with its mTLS
 * listener, and real nginx in front), with 2 s tokens renewable to 4 s: the sink file is written,
 * replaced atomically on every renewal and re-login, follows a certificate rotation, and every
 * version of it is a token that works.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTGATE_MAIN } from '../helpers/certgate-process.js';
import { jwtPayload, startClientGateway, type ClientCredsFiles, type ClientGateway } from '../helpers/client-gateway.js';
import { makeTempDir, startProcess, type ManagedProcess } from '../helpers/launcher.js';
import { freePort } from '../helpers/ports.js';

const SELF = '/api/v1/auth/token/self';
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

async function selfWith(gw: ClientGateway, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.certgate.url}${SELF}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

function startAgent(args: string[], sink: string): Promise<ManagedProcess> {
  return startProcess({ name: 'certgate agent', cmd: process.execPath, args: [CERTGATE_MAIN, 'agent', ...args, '--sink', sink], readyWhen: async () => existsSync(sink) });
}

function runAgent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CERTGATE_MAIN, 'agent', ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('certgate agent', () => {
  let gw: ClientGateway;
  let dir: string;
  let agent1: ClientCredsFiles;
  let agent2: ClientCredsFiles;

  beforeAll(async () => {
    gw = await startClientGateway({ nginx: true, accessTokenTTL: 2, accessTokenMaxTTL: 4 });
    dir = makeTempDir('certgate-agent-');
    agent1 = await gw.creds('agent-1');
    agent2 = await gw.creds('agent-2');
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('keeps a working token in the sink (0600), replaced atomically on renewal and re-login; SIGTERM exits 0', async () => {
    const sink = join(dir, 'token');
    const agent = await startAgent(['--url', gw.nginx!.url, '--cert', agent1.certFile, '--key', agent1.keyFile, '--ca', gw.caFile, '--identity', 'agents'], sink);
    try {
      expect(statSync(sink).mode & 0o777).toBe(0o600);
      // A reader polling the file sees complete tokens only, each one accepted by certgate.
      const seen = new Set<string>();
      const end = Date.now() + 6000;
      while (Date.now() < end) {
        const token = readFileSync(sink, 'utf8');
        expect(token).toMatch(JWT);
        if (!seen.has(token)) {
          seen.add(token);
          const self = await selfWith(gw, token);
          expect(self.status, JSON.stringify(self.body)).toBe(200);
          expect(self.body).toMatchObject({ identityId: 'agents', subject: expect.stringContaining('agent-1') });
          expect(statSync(sink).mode & 0o777).toBe(0o600);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      const tokens = [...seen];
      const jtis = tokens.map((t) => jwtPayload(t).jti);
      // Renewals keep the jti; the max TTL (4 s) forces a new login, a new jti, within 6 s.
      expect(tokens.length).toBeGreaterThanOrEqual(3);
      expect(new Set(jtis).size).toBeGreaterThanOrEqual(2);
      expect(new Set(jtis).size).toBeLessThan(tokens.length);
      // Written beside the sink and renamed over it: no temp file stays behind.
      expect(readdirSync(dir).filter((f) => f.startsWith('.token.'))).toEqual([]);

      const log = agent.output();
      expect(log).toMatch(/"msg":"login"/);
      expect(log).toMatch(/"msg":"renew"/);
      for (const t of tokens) expect(log).not.toContain(t);
    } finally {
      await agent.stop();
    }
    expect(agent.output()).toMatch(/exited \(code 0, signal null\)/);
  });

  it('logs in with the new certificate when the files are replaced', async () => {
    const sink = join(dir, 'rotating-token');
    const certFile = join(dir, 'rotating.pem');
    const keyFile = join(dir, 'rotating-key.pem');
    writeFileSync(certFile, agent1.cert);
    writeFileSync(keyFile, agent1.key);
    const agent = await startAgent(['--url', gw.tlsUrl, '--cert', certFile, '--key', keyFile, '--ca', gw.caFile], sink);
    try {
      expect((await selfWith(gw, readFileSync(sink, 'utf8'))).body.subject).toContain('agent-1');
      // The way a secret mount rotates: new files renamed over the old ones.
      writeFileSync(`${keyFile}.new`, agent2.key);
      writeFileSync(`${certFile}.new`, agent2.cert);
      renameSync(`${keyFile}.new`, keyFile);
      renameSync(`${certFile}.new`, certFile);
      await expect.poll(async () => (await selfWith(gw, readFileSync(sink, 'utf8'))).body.subject, { timeout: 10_000 }).toContain('agent-2');
      // Its stdout reaches this process on its own schedule, not before the HTTP answer above.
      await expect.poll(() => agent.output(), { timeout: 5000 }).toMatch(/certificate files changed/);
    } finally {
      await agent.stop();
    }
  });

  it('logs an error line while certgate answers 503, keeps the last token, and recovers', async () => {
    const sink = join(dir, 'outage-token');
    const agent = await startAgent(['--url', gw.tlsUrl, '--cert', agent1.certFile, '--key', agent1.keyFile, '--ca', gw.caFile], sink);
    try {
      const before = readFileSync(sink, 'utf8');
      await gw.redis.process.stop();
      await expect.poll(() => agent.output(), { timeout: 20_000 }).toMatch(/"level":50.*"status":503,"code":"store_unavailable".*"msg":"(renew|login) failed"/);
      expect(readFileSync(sink, 'utf8')).toMatch(JWT);
      await gw.redis.process.restart();
      // Redis came back empty: the old token is gone, so the agent logs in again.
      await expect.poll(async () => (await selfWith(gw, readFileSync(sink, 'utf8'))).status, { timeout: 20_000 }).toBe(200);
      expect(readFileSync(sink, 'utf8')).not.toBe(before);
      expect(agent.output()).not.toContain(before);
    } finally {
      await agent.stop();
    }
  });

  it('exits 1 with a clear message when the first login is refused', async () => {
    const intruder = await gw.creds('intruder-1');
    const sink = join(dir, 'never');
    const r = await runAgent(['--url', gw.tlsUrl, '--cert', intruder.certFile, '--key', intruder.keyFile, '--ca', gw.caFile, '--sink', sink]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^certgate agent: cannot log in at ${gw.tlsUrl}: .*401 common_name_not_allowed`, 'm'));
    expect(existsSync(sink)).toBe(false);
  });

  it('exits 1 with a clear message when certgate cannot be reached at first start', async () => {
    const url = `https://127.0.0.1:${await freePort()}`;
    const r = await runAgent(['--url', url, '--cert', agent1.certFile, '--key', agent1.keyFile, '--ca', gw.caFile, '--sink', join(dir, 'never2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^certgate agent: cannot log in at ${url}: .*ECONNREFUSED`, 'm'));
  });

  it('without its required options: exit 2 naming them', () => {
    const r = spawnSync(process.execPath, [CERTGATE_MAIN, 'agent', '--url', gw.tlsUrl], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--url, --cert, --key and --sink are required');
  });
});
