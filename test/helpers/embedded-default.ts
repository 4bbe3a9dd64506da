/**
 * `certgate serve` on the embedded default (config/dev.yaml), in a copy of the built package
 * (dist/, config/, package.json; node_modules linked) so the developer's own .certgate-dev is not
 * touched; only the two ports of config/dev.yaml are changed to free ones.
 */
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinary, makeTempDir, startProcess, type ManagedProcess } from './launcher.js';
import { freePort } from './ports.js';
import { REPO_ROOT } from './terminators.js';

export interface EmbeddedDefault {
  /** The copy of the package: the working directory of the gateway and of CLI calls. */
  dir: string;
  gw: ManagedProcess;
  httpPort: number;
  tlsPort: number;
}

/** Starts it and waits for /healthz; curl must be there, for the curl lines it prints. */
export async function startEmbeddedDefault(prefix: string): Promise<EmbeddedDefault> {
  ensureBinary('curl', 'curl');
  const dir = makeTempDir(prefix);
  cpSync(join(REPO_ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(REPO_ROOT, 'config'), join(dir, 'config'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  const httpPort = await freePort();
  const tlsPort = await freePort();
  const devYaml = join(dir, 'config', 'dev.yaml');
  writeFileSync(devYaml, readFileSync(devYaml, 'utf8').replace('port: 8080', `port: ${httpPort}`).replace('port: 8443', `port: ${tlsPort}`).replace('http://127.0.0.1:8080', `http://127.0.0.1:${httpPort}`));
  const gw = await startProcess({
    name: 'certgate (embedded default)',
    cmd: process.execPath,
    args: ['dist/cli/main.js', 'serve'],
    cwd: dir,
    env: { REDIS_URL: undefined, CERTGATE_CONFIG: undefined },
    readyWhen: async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => null))?.status === 200,
  });
  return { dir, gw, httpPort, tlsPort };
}
