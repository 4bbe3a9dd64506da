/**
 * The compiled gateway as a real process — `node dist/cli/main.js serve --config FILE`, exactly
 * what `npm start -- --config FILE` runs — on a free loopback port. End-to-end suites put real
 * terminators in front of it, so the TCP peer certgate sees is a real, separate process.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeTempDir, startProcess, type ManagedProcess } from './launcher.js';
import { freePort } from './ports.js';
import { REPO_ROOT } from './terminators.js';

export const CERTGATE_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface StartCertgateOptions {
  /**
   * certgate's configuration as a user writes it. `server` (host/port) and `keys.dir` are filled
   * in unless given; `issuer` defaults to https://certgate.test and `log.level` to info.
   */
  config: Record<string, unknown>;
  /** Directory for the config file and keys; default: a fresh temp dir. */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** More `serve` arguments after `--config FILE` (e.g. `--workers 2`). */
  args?: string[];
}

export interface CertgateProcess {
  readonly host: string;
  readonly port: number;
  /** http://host:port — the plain-HTTP listener terminators forward to. */
  readonly url: string;
  /** host:port, for a terminator's upstream. */
  readonly hostPort: string;
  readonly dir: string;
  readonly configFile: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** True when GET url answers 200 (fresh connection each time: nothing lingers after a stop). */
function answers200(url: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

export async function startCertgate(opts: StartCertgateOptions): Promise<CertgateProcess> {
  if (!existsSync(CERTGATE_MAIN)) {
    // global-setup builds dist/ before any suite; reaching this means the build failed or was skipped.
    throw new Error(`${CERTGATE_MAIN} does not exist: run "npm run build" (the tree must compile for e2e suites)`);
  }
  const dir = opts.dir ?? makeTempDir('certgate-gw-');
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const host = '127.0.0.1';
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(host);
    const userServer = (opts.config.server as Record<string, unknown> | undefined) ?? {};
    const doc = {
      issuer: 'https://certgate.test',
      keys: { dir: join(dir, 'keys') },
      log: { level: 'info' },
      ...opts.config,
      server: { host, port, ...userServer },
    };
    const configFile = join(dir, 'certgate.yaml');
    writeFileSync(configFile, stringify(doc));
    const url = `http://${host}:${port}`;
    try {
      const proc = await startProcess({
        name: `certgate :${port}`,
        cmd: process.execPath,
        args: [CERTGATE_MAIN, 'serve', '--config', configFile, ...(opts.args ?? [])],
        cwd: dir,
        // The config file is the whole truth: a developer's REDIS_URL or CERTGATE_CONFIG must not
        // silently point the gateway elsewhere (nor their node and malloc settings change it).
        env: { REDIS_URL: undefined, CERTGATE_CONFIG: undefined, NODE_OPTIONS: undefined, MALLOC_ARENA_MAX: undefined, ...opts.env },
        readyWhen: () => answers200(`${url}/healthz`),
      });
      return {
        host,
        port,
        url,
        hostPort: `${host}:${port}`,
        dir,
        configFile,
        process: proc,
        stop: async () => {
          await proc.stop();
          if (!opts.dir) rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      if (!/EADDRINUSE|address already in use/i.test(String(err)) || attempt >= 3) throw err;
    }
  }
}
