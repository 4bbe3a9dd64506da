import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { LOGIN_PATH, postJson } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped } from '../helpers/pki.js';
import { tryConnect } from '../helpers/ports.js';

/**
 * SIGTERM on a real gateway process with a slow upstream route: the request in flight gets its
 * whole answer, /readyz answers 503 at once, new connections are refused, and the process exits 0
 * within server.shutdownTimeout.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BODY = 'x'.repeat(256 * 1024);

interface SlowUpstream {
  port: number;
  arrived: Promise<void>;
  release(): void;
  close(): void;
}

/** An upstream that holds every request until release(), then streams a 256 KiB body. */
async function slowUpstream(): Promise<SlowUpstream> {
  let arrive!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  const held: ServerResponse[] = [];
  let released = false;
  const answer = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(BODY);
  };
  const server: Server = createServer((_req: IncomingMessage, res) => {
    arrive();
    if (released) answer(res);
    else held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    arrived,
    release: () => {
      released = true;
      held.splice(0).forEach(answer);
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** GET through the gateway on a connection of its own; resolves with the status and whole body, or the error. */
function slowGet(url: string, token: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
    });
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

async function exited(gw: CertgateProcess, timeoutMs: number): Promise<{ code: string; afterMs: number }> {
  const start = Date.now();
  while (gw.process.running && Date.now() - start < timeoutMs) await sleep(20);
  const m = /exited \(code (\S+), signal (\S+)\)/.exec(gw.process.output());
  return { code: m ? `${m[1]}/${m[2]}` : 'still running', afterMs: Date.now() - start };
}

describe('SIGTERM drains', () => {
  let header: string;
  let caPem: string;
  let upstream: SlowUpstream | undefined;
  let gw: CertgateProcess | undefined;

  beforeAll(async () => {
    const pki = await makeTestPki();
    caPem = pki.rootA.pem;
    header = nginxEscaped(await pki.leaf({ cn: 'agent-1' }), pki.interA);
  });
  afterEach(async () => {
    upstream?.close();
    await gw?.stop();
  });

  const start = async (shutdownTimeout: number) => {
    upstream = await slowUpstream();
    gw = await startCertgate({
      config: {
        server: { shutdownTimeout },
        store: { url: 'memory' },
        trustedProxies: [{ cidrs: ['127.0.0.1/32'], header: 'x-ssl-client-cert', format: 'nginx' }],
        identities: [{ id: 'agents', caCertificate: caPem }],
        routes: [{ pathPrefix: '/slow', upstream: `http://127.0.0.1:${upstream.port}` }],
      },
    });
    const login = await postJson(gw.url + LOGIN_PATH, {}, { 'x-ssl-client-cert': header });
    expect(login.status).toBe(200);
    return login.body.accessToken as string;
  };

  it('answers the request in flight in full, answers /readyz 503, refuses new connections, exits 0', async () => {
    const token = await start(10);
    const g = gw!;
    const inFlight = slowGet(`${g.url}/slow/thing`, token);
    await upstream!.arrived;
    // A request still arriving when SIGTERM comes: its connection is busy, so it is not closed as idle.
    const probe: Socket = connect({ port: g.port, host: '127.0.0.1' });
    await new Promise((r) => probe.once('connect', r));
    let probeAnswer = '';
    probe.on('data', (d) => (probeAnswer += d.toString()));
    probe.write(`GET /readyz HTTP/1.1\r\nHost: ${g.hostPort}\r\n`);
    // An idle keep-alive connection: one request answered, the connection left open.
    const idle: Socket = connect({ port: g.port, host: '127.0.0.1' });
    let idleAnswer = '';
    let idleClosed = false;
    idle.on('data', (d) => (idleAnswer += d.toString()));
    idle.on('close', () => (idleClosed = true));
    idle.write(`GET /healthz HTTP/1.1\r\nHost: ${g.hostPort}\r\n\r\n`);
    await sleep(100);
    expect(idleAnswer).toMatch(/^HTTP\/1\.1 200/);
    expect(idleAnswer).toMatch(/keep-alive/i);
    expect(idleClosed).toBe(false);

    g.process.signal('SIGTERM');
    await sleep(300);
    probe.write('\r\n');
    await sleep(200);
    expect(await tryConnect(g.port)).toBe('ECONNREFUSED');
    expect(probeAnswer).toMatch(/^HTTP\/1\.1 503/);
    expect(probeAnswer).toMatch(/"error":"shutting_down"/);
    expect(probeAnswer).toMatch(/connection: close/i);
    // Closed by the gateway while the slow request is still running.
    expect(idleClosed).toBe(true);
    expect(g.process.running).toBe(true);

    upstream!.release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(BODY);
    const exit = await exited(g, 10_000);
    expect(exit.code).toBe('0/null');
  });

  it('closes what is still open after shutdownTimeout and exits 0', async () => {
    const token = await start(1);
    const g = gw!;
    const inFlight = slowGet(`${g.url}/slow/never`, token);
    await upstream!.arrived;
    g.process.signal('SIGTERM');
    // The feature is a time bound: exit within shutdownTimeout (1 s) plus process teardown.
    const exit = await exited(g, 5000);
    expect(exit.code).toBe('0/null');
    expect(exit.afterMs).toBeGreaterThanOrEqual(900);
    expect(exit.afterMs).toBeLessThan(4000);
    expect((await inFlight).error).toBeDefined();
    expect(g.process.output()).toMatch(/"event":"drain_timeout".*"forced":1/);
  });
});
