import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { CertgateClient } from '../client/client.js';
import type { TokenInfo } from '../client/types.js';
import { createLogger } from '../util/logger.js';

export interface AgentArgs {
  url?: string;
  cert?: string;
  key?: string;
  ca?: string;
  identity?: string;
  sink?: string;
}

/** How often the certificate files are checked for a change between renewals. */
const CHECK_MS = 1000;

/**
 * `certgate agent`: keeps a current access token in a file for workloads in any language (what
 * Vault Agent's auto-auth file sink does). Renewal, re-login and retries are the Node client's.
 */
export async function agentCommand(a: AgentArgs): Promise<number> {
  if (!a.url || !a.cert || !a.key || !a.sink) {
    process.stderr.write('certgate agent: --url, --cert, --key and --sink are required (see certgate agent --help)\n');
    return 2;
  }
  const files = { cert: resolve(a.cert), key: resolve(a.key), ca: a.ca ? resolve(a.ca) : undefined };
  const sink = resolve(a.sink);
  const log = createLogger({ level: 'info', base: { svc: 'certgate-agent' } });
  let creds: ReturnType<typeof readCreds>;
  try {
    creds = readCreds(files);
  } catch (e) {
    process.stderr.write(`certgate agent: cannot read the certificate files: ${(e as Error).message}\n`);
    return 1;
  }
  const client = new CertgateClient({
    url: a.url,
    ...creds.pem,
    identityId: a.identity,
    onEvent: (e) => (e.type === 'error' ? log.error(e, `${e.operation} failed`) : log.info(e, e.type)),
  });

  let written: string | undefined;
  const publish = (t: TokenInfo) => {
    if (t.accessToken === written) return;
    writeAtomically(sink, t.accessToken);
    written = t.accessToken;
  };
  try {
    publish(await client.tokenInfo());
  } catch (e) {
    await client.close();
    process.stderr.write(`certgate agent: cannot log in at ${a.url}: ${(e as Error).message}\n`);
    return 1;
  }
  log.info({ sink, identity: a.identity }, 'token written; keeping it current');

  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = (signal: string) => {
    stopping = true;
    log.info({ signal }, 'stopping');
    wake?.();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  let stamp = creds.stamp;
  let info = await client.tokenInfo();
  while (!stopping) {
    const wait = Math.max(0, Math.min(CHECK_MS, info.refreshAt - Date.now()));
    await new Promise<void>((r) => {
      const t = setTimeout(r, wait);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
    if (stopping) break;
    stamp = reloadIfChanged(files, stamp, client, log);
    try {
      info = await client.tokenInfo();
      publish(info);
    } catch {
      // Logged by the client's error event; the file keeps the last token, and we try again.
      info = { ...info, refreshAt: Date.now() + CHECK_MS };
    }
  }
  await client.close();
  return 0;
}

function readCreds(f: { cert: string; key: string; ca?: string }) {
  return {
    pem: { cert: readFileSync(f.cert), key: readFileSync(f.key), ca: f.ca ? readFileSync(f.ca) : undefined },
    stamp: stampOf(f),
  };
}

/** Size, mtime and inode of each file: a rewrite, a rename over it or a symlink swap all change it. */
function stampOf(f: { cert: string; key: string; ca?: string }): string {
  return [f.cert, f.key, f.ca]
    .filter((p): p is string => !!p)
    .map((p) => {
      const s = statSync(p);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    })
    .join('|');
}

/** Certificates rotate too: new files mean a new login with them. A half-written pair is retried. */
function reloadIfChanged(f: { cert: string; key: string; ca?: string }, stamp: string, client: CertgateClient, log: Logger): string {
  try {
    const now = stampOf(f);
    if (now === stamp) return stamp;
    const { pem } = readCreds(f);
    // Mid-rotation the key may already be new and the certificate still old: wait for the pair.
    if (!new X509Certificate(pem.cert).checkPrivateKey(createPrivateKey(pem.key))) {
      log.warn({ cert: f.cert }, 'certificate and key do not match (yet); keeping the previous ones');
      return stamp;
    }
    client.setCredentials(pem);
    log.info({ cert: f.cert }, 'certificate files changed; logging in with them');
    return now;
  } catch (e) {
    log.error({ err: (e as Error).message }, 'cannot read the certificate files; keeping the previous ones');
    return stamp;
  }
}

/** Mode 0600, written beside the sink and renamed over it: a reader never sees a partial token. */
function writeAtomically(sink: string, token: string): void {
  const tmp = join(dirname(sink), `.${basename(sink)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  writeFileSync(tmp, token, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, sink);
}
