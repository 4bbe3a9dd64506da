import { join } from 'node:path';
import { buildConfig, type Config } from '../../src/config/load.js';
import { startGateway, type RunningGateway, type StartOptions } from '../../src/http/server.js';
import { ManualClock, type Clock } from '../../src/util/clock.js';
import { pino } from 'pino';
import { RedisTokenStore } from '../../src/store/redis.js';
import { makeTempDir, startRedis } from './launcher.js';

export interface TestGateway extends RunningGateway {
  url: string;
  tlsUrl?: string;
  config: Config;
  clock: Clock;
}

/**
 * An in-process gateway on free loopback ports, from a config document as a user would write it
 * (validated by the real schema). Keys go to a fresh temp dir unless the document names one.
 * Logs go nowhere unless opts.log says where; the other opts are startGateway's.
 */
export async function startTestGateway(
  doc: Record<string, unknown>,
  opts: StartOptions & { baseDir?: string } = {},
): Promise<TestGateway> {
  const dir = opts.baseDir ?? makeTempDir();
  const server = (doc.server as Record<string, unknown> | undefined) ?? {};
  const full = {
    issuer: 'https://certgate.test',
    store: { url: 'memory' },
    keys: { dir: join(dir, 'keys') },
    log: { level: 'silent' },
    ...doc,
    server: { host: '127.0.0.1', port: 0, ...server },
  };
  const config = buildConfig(full, { baseDir: dir, env: {} });
  const { baseDir: _, ...start } = opts;
  const clock = opts.clock ?? new ManualClock(Date.now());
  const running = await startGateway(config, { log: pino({ level: 'silent' }), ...start, clock });
  return {
    ...running,
    config,
    clock,
    url: `http://127.0.0.1:${running.httpPort}`,
    tlsUrl: running.tlsPort ? `https://127.0.0.1:${running.tlsPort}` : undefined,
  };
}

/** The stores the suites run their gateway on, each in turn (describe.each). */
export type StoreKind = 'memory' | 'redis';

/**
 * startTestGateway on the memory store, or on a real redis-server of its own that its close()
 * stops too.
 */
export async function startTestGatewayOn(kind: StoreKind, doc: Record<string, unknown>): Promise<TestGateway> {
  if (kind === 'memory') return startTestGateway(doc);
  const redis = await startRedis();
  try {
    const gw = await startTestGateway(doc, { store: new RedisTokenStore({ url: redis.url }) });
    return {
      ...gw,
      close: async () => {
        await gw.close();
        await redis.stop();
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

export const LOGIN_PATH = '/api/v1/auth/tls-cert-auth/login';

/** Status, body (JSON when it parses, else text) and headers of a fetch answer. */
async function answer(res: Response) {
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** POST JSON with fetch. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return answer(await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }));
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  return answer(await fetch(url, { headers }));
}
