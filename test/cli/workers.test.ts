import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CERTGATE_MAIN, startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { LOGIN_PATH } from '../helpers/gateway.js';
import { makeTempDir, startRedis, type RedisServer } from '../helpers/launcher.js';
import { makeTestPki, nginxEscaped, writePem, type TestPki } from '../helpers/pki.js';
import { freePort, tryConnect } from '../helpers/ports.js';
import { until } from '../helpers/until.js';

/**
 * `certgate serve --workers 2` as a real process tree (the compiled primary and its node:cluster
 * workers) on a real redis-server. Which worker answered is read from /metrics:
 * `certgate_scrape_worker_info{worker, pid}` (the rest of /metrics is every worker's, summed). Signals are sent to the primary's pid alone (not
 * to the process group), so what reaches the workers is what the primary forwards.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BODY = 'y'.repeat(128 * 1024);

/** JSON log lines of one event in the process tree's output after `from` characters. */
function events(gw: CertgateProcess, event: string, from = 0): Record<string, any>[] {
  return gw.process
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l));
}

interface Answer {
  status: number;
  body: string;
  json?: any;
}

/** One HTTP(S) request; `agent` decides the connection (false: a fresh one, so the next worker). */
function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent | HttpsAgent | false } = {}): Promise<Answer> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false, rejectUnauthorized: false } as never,
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(body);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A request never hangs a test: a connection nobody answers fails after 10 s.
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.end(opts.body);
  });
}

/** The pid of the worker that answered /metrics on this connection. */
async function workerPid(base: string, agent: Agent | HttpsAgent | false = false): Promise<number> {
  const m = /certgate_scrape_worker_info\{worker="\d+",pid="(\d+)"\} 1/.exec((await call(`${base}/metrics`, { agent })).body);
  if (!m) throw new Error('no certgate_scrape_worker_info in /metrics');
  return Number(m[1]);
}

/** A scrape's value of one sample, e.g. `certgate_logins_total{outcome="allowed",code=""}` (0 when absent). */
function sample(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('serve --workers 2', () => {
  let pki: TestPki;
  let redis: RedisServer;
  let gw: CertgateProcess;
  let header: string;
  let tlsPort: number;
  let dir: string;
  let upstream: Server;
  let upstreamPort: number;
  let arrived!: () => void;
  let arrivedP: Promise<void>;
  let held: ServerResponse[] = [];
  const primary = () => gw.process.pid!;
  const login = (identityId: string, agent: Agent | false = false) =>
    call(gw.url + LOGIN_PATH, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-ssl-client-cert': header }, body: JSON.stringify({ identityId }) });

  /** Logs in on connections of their own until both workers have answered; returns status per pid. */
  async function loginOnEveryWorker(identityId: string): Promise<Map<number, number[]>> {
    const seen = new Map<number, number[]>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const pid = await workerPid(gw.url, agent);
      const { status } = await login(identityId, agent);
      agent.destroy();
      seen.set(pid, [...(seen.get(pid) ?? []), status]);
    }
    return seen;
  }

  beforeAll(async () => {
    pki = await makeTestPki();
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
    redis = await startRedis();
    dir = makeTempDir('certgate-workers-');
    writePem(dir, 'server.pem', pki.server.pem);
    writePem(dir, 'server-key.pem', pki.server.keyPem);
    // The CA of identity "hup" is read from a file: only a reload (SIGHUP) picks up a new one.
    writePem(dir, 'hup-ca.pem', pki.rootB.pem);
    arrivedP = new Promise<void>((r) => (arrived = r));
    upstream = createServer((_req, res) => {
      arrived();
      held.push(res);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
    tlsPort = await freePort();
    gw = await startCertgate({
      dir,
      args: ['--workers', '2'],
      config: {
        server: { tls: { port: tlsPort, cert: 'server.pem', key: 'server-key.pem' } },
        store: { url: redis.url },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [
          { id: 'agents', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'], accessTokenNumUsesLimit: 40 },
          { id: 'hup', caCertificateFile: 'hup-ca.pem', allowedCommonNames: ['agent-*'] },
        ],
        routes: [{ pathPrefix: '/slow', upstream: `http://127.0.0.1:${upstreamPort}` }],
      },
    });
    await until('both workers ready', () => events(gw, 'workers_ready')[0], 20_000);
  });
  afterAll(async () => {
    held.forEach((r) => r.destroy());
    upstream?.closeAllConnections();
    upstream?.close();
    await gw?.stop();
    await redis?.stop();
  });

  it('serves the HTTP and the direct TLS listener from two different worker processes', async () => {
    const pids = new Set<number>();
    const tlsPids = new Set<number>();
    for (let i = 0; i < 20 && (pids.size < 2 || tlsPids.size < 2); i++) {
      pids.add(await workerPid(gw.url));
      tlsPids.add(await workerPid(`https://127.0.0.1:${tlsPort}`));
    }
    expect(pids.size).toBe(2);
    expect(tlsPids).toEqual(pids);
    expect(pids.has(primary())).toBe(false);
    // One key, written by the primary before the workers existed.
    expect(events(gw, 'key_published').map((e) => e.role)).toEqual(['primary']);
  });

  it('/metrics, whichever worker answers, is every worker\'s summed: both workers listed, every login counted once', async () => {
    const SUCCEEDED = 'certgate_logins_total{outcome="success",code=""}';
    const scrape = async (agent: Agent) => {
      const a = await call(`${gw.url}/metrics`, { agent });
      expect(a.status).toBe(200);
      return a.body;
    };
    const before = sample(await scrape(new Agent()), SUCCEEDED);
    // Logins on connections of their own until both workers have made some.
    const seen = await loginOnEveryWorker('agents');
    expect(seen.size).toBe(2);
    const made = [...seen.values()].flat();
    expect(made.every((s) => s === 200)).toBe(true);
    // Scraped from each worker in turn: the same sum, both workers, and who answered.
    const answeredBy = new Set<number>();
    for (let i = 0; i < 20 && answeredBy.size < 2; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const pid = await workerPid(gw.url, agent);
      const text = await scrape(agent);
      agent.destroy();
      answeredBy.add(pid);
      expect(sample(text, SUCCEEDED) - before).toBe(made.length);
      const workers = [...text.matchAll(/^certgate_worker_info\{worker="\d+",pid="(\d+)"\} 1$/gm)].map((m) => Number(m[1]));
      expect(new Set(workers)).toEqual(new Set(seen.keys()));
      expect(workers).toContain(pid);
    }
    expect(answeredBy).toEqual(new Set(seen.keys()));
  });

  it('a token with 40 uses allows exactly 40 calls across both workers, however many race', async () => {
    const token = (await login('agents')).json.accessToken as string;
    const answers = await Promise.all(
      Array.from({ length: 160 }, () => call(`${gw.url}/api/v1/auth/forward`, { headers: { authorization: `Bearer ${token}` } })),
    );
    const by = (s: number) => answers.filter((a) => a.status === s).length;
    expect(by(204)).toBe(40);
    expect(by(401)).toBe(120);
    expect(answers.filter((a) => a.status === 401).every((a) => a.json?.error === 'token_uses_exhausted')).toBe(true);
    const refused = await until('120 refusals logged', () => {
      const r = events(gw, 'token_refused').filter((e) => e.reason === 'token_uses_exhausted');
      return r.length >= 120 ? r : undefined;
    }, 5000);
    expect(refused).toHaveLength(120);
    expect(new Set(refused.map((e) => e.worker))).toEqual(new Set([1, 2]));
    // Both workers logged their refusals on the one stdout: every line is whole.
    const lines = gw.process.output().split('\n').filter((l) => l.startsWith('{'));
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('SIGHUP to the primary reloads every worker: a CA changed in its file is trusted by both', async () => {
    const before = await loginOnEveryWorker('hup');
    expect([...before.values()].flat().every((s) => s === 401)).toBe(true);
    const mark = gw.process.output().length;
    writePem(dir, 'hup-ca.pem', pki.rootA.pem);
    process.kill(primary(), 'SIGHUP');
    await until('both workers reloaded by SIGHUP', () => {
      const lines = events(gw, 'config_reloaded', mark).filter((l) => l.trigger === 'sighup');
      return new Set(lines.map((l) => l.worker)).size === 2 ? lines : undefined;
    }, 10_000);
    const after = await loginOnEveryWorker('hup');
    expect(after.size).toBe(2);
    expect([...after.values()].flat().every((s) => s === 200)).toBe(true);
  });

  it('a change of the config file, watched by the primary, adds an identity on every worker', async () => {
    const mark = gw.process.output().length;
    const doc = parse(readFileSync(gw.configFile, 'utf8')) as Record<string, any>;
    doc.identities.push({ id: 'filed', caCertificate: pki.rootA.pem, allowedCommonNames: ['agent-*'] });
    writeFileSync(gw.configFile, stringify(doc));
    await until('both workers reloaded the file', () => {
      const lines = events(gw, 'config_reloaded', mark).filter((l) => l.trigger === 'file' && l.identities === 3);
      return new Set(lines.map((l) => l.worker)).size === 2 ? lines : undefined;
    }, 10_000);
    const seen = await loginOnEveryWorker('filed');
    expect(seen.size).toBe(2);
    expect([...seen.values()].flat().every((s) => s === 200)).toBe(true);
  });

  it('a worker killed by SIGKILL is replaced; the other keeps serving', async () => {
    const pids = new Set<number>();
    while (pids.size < 2) pids.add(await workerPid(gw.url));
    const [victim, survivor] = [...pids];
    process.kill(victim!, 'SIGKILL');
    // A connection the primary handed to the victim as it died is lost (node:cluster): the probe
    // gives up on it after its timeout and tries again.
    const replacement = await until('a replacement worker answers', async () => {
      const pid = await workerPid(gw.url).catch(() => undefined);
      return pid !== undefined && !pids.has(pid) ? pid : undefined;
    }, 20_000);
    expect(replacement).not.toBe(victim);
    expect(events(gw, 'worker_exited').some((e) => e.pid === victim && e.signal === 'SIGKILL')).toBe(true);
    const now = new Set<number>();
    for (let i = 0; i < 20 && now.size < 2; i++) now.add(await workerPid(gw.url));
    expect(now).toEqual(new Set([survivor, replacement]));
    expect(gw.process.running).toBe(true);
  }, 60_000);

  it('SIGTERM to the primary: the request in flight is answered in full, every worker drains, the primary exits 0', async () => {
    const token = (await login('filed')).json.accessToken as string;
    const inFlight = call(`${gw.url}/slow/x`, { headers: { authorization: `Bearer ${token}` } });
    await arrivedP;
    process.kill(primary(), 'SIGTERM');
    await until('both workers draining', () => (events(gw, 'draining').length >= 2 ? true : undefined), 10_000);
    await sleep(200);
    // Every worker closed its listeners: the shared port refuses new connections.
    expect(await tryConnect(gw.port)).toBe('ECONNREFUSED');
    expect(gw.process.running).toBe(true);
    held.splice(0).forEach((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(BODY);
    });
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(BODY);
    await until('the primary exits', () => (gw.process.running ? undefined : true), 15_000);
    expect(gw.process.output()).toMatch(/exited \(code 0, signal null\)/);
    expect(events(gw, 'stopped').filter((e) => e.worker !== undefined)).toHaveLength(2);
  });
});

describe('serve --workers 2: restarts are bounded', () => {
  let redis: RedisServer;
  let gw: CertgateProcess;
  beforeAll(async () => {
    redis = await startRedis();
    gw = await startCertgate({ args: ['--workers', '2'], config: { store: { url: redis.url } } });
    await until('both workers ready', () => events(gw, 'workers_ready')[0], 20_000);
  });
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  it('replaces 5 dead workers within a minute at once, and makes the 6th replacement wait', async () => {
    // Kill the newest worker as soon as it is forked: 6 deaths in a few seconds.
    for (let death = 1; death <= 6; death++) {
      const forks = await until(`fork ${death + 1}`, () => {
        const f = events(gw, 'worker_forked');
        return f.length >= death + 1 ? f : undefined;
      }, 20_000);
      process.kill(forks[death]!.pid as number, 'SIGKILL');
      await until(`death ${death} seen`, () => (events(gw, 'worker_exited').length >= death ? true : undefined), 20_000);
    }
    const delayed = await until('the delayed restart', () => events(gw, 'worker_restart_delayed')[0], 5000);
    expect(delayed.limit).toBe(5);
    expect(delayed.waitMs).toBeGreaterThan(50_000);
    expect(delayed.waitMs).toBeLessThanOrEqual(60_000);
    // Five replacements, and no sixth: the first worker still serves alone.
    await sleep(500);
    expect(events(gw, 'worker_forked')).toHaveLength(2 + 5);
    const survivor = events(gw, 'worker_forked')[0]!.pid as number;
    expect(await workerPid(gw.url)).toBe(survivor);
    expect(await workerPid(gw.url)).toBe(survivor);
  }, 60_000);

  it('SIGINT to the primary while a restart waits: the worker drains, nothing more is forked, exit 0', async () => {
    const forks = events(gw, 'worker_forked').length;
    process.kill(gw.process.pid!, 'SIGINT');
    await until('the primary exits', () => (gw.process.running ? undefined : true), 15_000);
    expect(gw.process.output()).toMatch(/exited \(code 0, signal null\)/);
    expect(events(gw, 'shutdown').find((e) => e.role === 'primary')?.signal).toBe('SIGINT');
    expect(events(gw, 'stopped').filter((e) => e.worker !== undefined)).toHaveLength(1);
    expect(events(gw, 'worker_forked')).toHaveLength(forks);
  });
});

describe('serve --workers: refusals', () => {
  const serve = (config: Record<string, unknown>, args: string[], dir = makeTempDir('certgate-workers-refused-')) => {
    const file = join(dir, 'certgate.yaml');
    writeFileSync(file, stringify({ issuer: 'https://certgate.test', keys: { dir: join(dir, 'keys') }, ...config }));
    return spawnSync(process.execPath, [CERTGATE_MAIN, 'serve', '--config', file, ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, REDIS_URL: undefined, CERTGATE_CONFIG: undefined, NODE_OPTIONS: undefined },
    });
  };

  it('refuses --workers 2 with the in-memory store, naming server.workers and store.url', () => {
    const r = serve({ server: { port: 0 }, store: { url: 'memory' } }, ['--workers', '2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/server\.workers/);
    expect(r.stderr).toMatch(/store\.url is "memory"/);
  });

  it('refuses server.workers: 2 with the in-memory store in the file', () => {
    const r = serve({ server: { port: 0, workers: 2 }, store: { url: 'memory' } }, []);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/server\.workers/);
    expect(r.stderr).toMatch(/store\.url is "memory"/);
  });

  it('refuses a --workers that is not a whole number from 1 to 256', () => {
    for (const bad of ['0', '1.5', 'two', '257']) {
      const r = serve({ server: { port: 0 }, store: { url: 'memory' } }, ['--workers', bad]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`--workers must be a whole number from 1 to 256, not "${bad}"`);
    }
  });

  it('a worker that cannot start stops the primary with its message and exit 1, without forking again', async () => {
    const redis = await startRedis();
    try {
      const dir = makeTempDir('certgate-workers-broken-');
      // Readable (so the primary's config check passes) but no certificate: the workers' TLS listener fails.
      writeFileSync(join(dir, 'server.pem'), 'not a certificate\n');
      writeFileSync(join(dir, 'server-key.pem'), 'not a key\n');
      const r = serve({ server: { port: await freePort(), tls: { port: await freePort(), cert: 'server.pem', key: 'server-key.pem' } }, store: { url: redis.url } }, ['--workers', '2'], dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/certgate: worker \d could not start: .*(PEM|key|certificate)/i);
      const forks = r.stdout.split('\n').filter((l) => l.includes('"event":"worker_forked"'));
      expect(forks).toHaveLength(2);
    } finally {
      await redis.stop();
    }
  });
});
