/**
 * Real TLS terminators (nginx, HAProxy, Caddy, Apache httpd) in front of a certgate, started from
 * the very templates users copy out of proxy-configs/<product>/. Only ports and paths are
 * substituted; everything the terminator does with headers is the shipped configuration, so the
 * e2e suites test the documentation, not a private copy of it.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ensureBinary, makeTempDir, startProcess, type ManagedProcess } from './launcher.js';
import { freePort } from './ports.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PROXY_CONFIGS_DIR = join(REPO_ROOT, 'proxy-configs');

export const TERMINATOR_PRODUCTS = ['nginx', 'haproxy', 'caddy', 'apache'] as const;
export type TerminatorProduct = (typeof TERMINATOR_PRODUCTS)[number];

/** Values for the `${NAME}` placeholders of the templates (documented in each README). */
export interface TemplateVars {
  LISTEN_HOST: string;
  LISTEN_PORT: string;
  /** Server certificate (PEM, leaf first, then any intermediates). */
  TLS_CERT: string;
  TLS_KEY: string;
  /** HAProxy's `crt`: the certificate chain followed by its key, in one file. */
  TLS_BUNDLE: string;
  /** CAs advertised in the CertificateRequest and used for the terminator's verify status. */
  CLIENT_CA: string;
  /** certgate's plain-HTTP listener, host:port. */
  CERTGATE_UPSTREAM: string;
  /** Writable directory for pid, temp and runtime files. */
  RUN_DIR: string;
  /** Directory for log files (nginx access log, Apache error and access logs). */
  LOG_DIR: string;
}

interface ProductSpec {
  /** Template path inside proxy-configs/. */
  template: string;
  /** File name of the rendered config in the instance's directory. */
  rendered: string;
  binary: { bin: string; debPackage: string };
  args(configFile: string, dir: string): string[];
  env?(dir: string): NodeJS.ProcessEnv;
}

const PRODUCTS: Record<TerminatorProduct, ProductSpec> = {
  nginx: {
    template: 'nginx/nginx.conf.template',
    rendered: 'nginx.conf',
    binary: { bin: 'nginx', debPackage: 'nginx' },
    // -e stderr: Debian's build would first open /var/log/nginx/error.log, before reading the config.
    args: (conf, dir) => ['-p', dir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'],
  },
  haproxy: {
    template: 'haproxy/haproxy.cfg.template',
    rendered: 'haproxy.cfg',
    binary: { bin: 'haproxy', debPackage: 'haproxy' },
    args: (conf) => ['-f', conf, '-db'],
  },
  caddy: {
    template: 'caddy/Caddyfile.template',
    rendered: 'Caddyfile',
    binary: { bin: 'caddy', debPackage: 'caddy' },
    args: (conf) => ['run', '--config', conf, '--adapter', 'caddyfile'],
    // Caddy keeps state (autosave.json, certificate storage) under HOME/XDG dirs: keep it in the
    // instance's directory, never in the real user's home.
    env: (dir) => ({ HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }),
  },
  apache: {
    template: 'apache/httpd.conf.template',
    rendered: 'httpd.conf',
    binary: { bin: 'apache2', debPackage: 'apache2' },
    args: (conf) => ['-f', conf, '-DFOREGROUND'],
    // Debian's apache2 reads APACHE_* variables from /etc/apache2/envvars via apache2ctl only; the
    // template names every path itself, so start it with a clean slate of those.
    env: () => ({ APACHE_CONFDIR: undefined, APACHE_RUN_DIR: undefined, APACHE_LOG_DIR: undefined }),
  },
};

/** Absolute path of a product's shipped template. */
export function templatePath(product: TerminatorProduct): string {
  return join(PROXY_CONFIGS_DIR, PRODUCTS[product].template);
}

const PLACEHOLDER = /\$\{([A-Z][A-Z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` for every NAME in `vars`. A placeholder the template uses but `vars` lacks is
 * an error: an unsubstituted path would otherwise surface as a confusing terminator error.
 */
export function renderTemplate(text: string, vars: Partial<Record<string, string>>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template placeholder ${whole} has no value`);
    return v;
  });
}

/** The placeholders a template uses (for docs and consistency tests). */
export function templatePlaceholders(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))].sort();
}

/** One `trustedProxies` entry of certgate's config. */
export interface TrustedProxyEntry {
  cidrs: string[];
  header: string;
  format: string;
  chainHeader?: string;
  verifyHeader?: string;
}

/**
 * The documented certgate side of a product's config (proxy-configs/<product>/
 * certgate.trusted-proxy.yaml), with its example CIDRs replaced by `cidrs`.
 */
export function trustedProxyFor(product: TerminatorProduct, cidrs: string[]): TrustedProxyEntry {
  const file = join(PROXY_CONFIGS_DIR, product, 'certgate.trusted-proxy.yaml');
  const doc = parseYaml(readFileSync(file, 'utf8')) as { trustedProxies?: TrustedProxyEntry[] };
  const entry = doc.trustedProxies?.[0];
  if (!entry || doc.trustedProxies!.length !== 1) throw new Error(`${file}: expected exactly one trustedProxies entry`);
  return { ...entry, cidrs };
}

export interface StartTerminatorOptions {
  /** certgate's (or any HTTP server's) host:port the terminator proxies to. */
  upstream: string;
  /** Server certificate chain (PEM) and key presented to clients. */
  serverCertPem: string;
  serverKeyPem: string;
  /** PEM bundle for the terminator's CertificateRequest / verify status. */
  clientCaPem: string;
  /** Default 127.0.0.1. */
  host?: string;
}

/** A process started by startInOwnDir: where it listens, its directory and config file. */
export interface InOwnDir {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface Terminator extends InOwnDir {
  readonly product: TerminatorProduct;
  /** https://host:port */
  readonly url: string;
}

/** True once a TLS handshake (no client certificate) completes on host:port. */
function tlsHandshakes(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tlsConnect({ host, port, rejectUnauthorized: false, servername: 'localhost' });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('secureConnect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Starts a process configured in a temp directory of its own on a free loopback port. `prepare`
 * writes its config there for that port and says what to run. A port from freePort() can be
 * taken before the process binds it: then another directory and port, up to 3 attempts. The
 * directory goes with stop(), or at once when the start fails.
 */
async function startInOwnDir(o: {
  prefix: string;
  host: string;
  prepare(dir: string, port: number): {
    name: string;
    cmd: string;
    configFile: string;
    args: string[];
    env?: NodeJS.ProcessEnv;
    readyWhen: () => Promise<boolean>;
  };
}): Promise<InOwnDir> {
  for (let attempt = 1; ; attempt++) {
    const dir = makeTempDir(o.prefix);
    // nginx and Apache drop their workers to nobody / www-data when started as root; those must
    // be able to traverse the instance directory. Private keys stay 0600 (read by the master).
    chmodSync(dir, 0o755);
    const port = await freePort(o.host);
    const { configFile, ...run } = o.prepare(dir, port);
    try {
      const proc = await startProcess({ ...run, cwd: dir });
      return {
        host: o.host,
        port,
        dir,
        configFile,
        process: proc,
        stop: async () => {
          await proc.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (!/address already in use/i.test(String(err)) || attempt >= 3) throw err;
    }
  }
}

/**
 * Starts `product` from its shipped template on a free loopback port, in its own temp directory
 * (rendered config, certificates, pid and runtime files), and waits until it completes a TLS
 * handshake. A missing binary is installed (root + apt) or fails loudly, via ensureBinary.
 */
export async function startTerminator(product: TerminatorProduct, opts: StartTerminatorOptions): Promise<Terminator> {
  const spec = PRODUCTS[product];
  const bin = ensureBinary(spec.binary.bin, spec.binary.debPackage);
  const host = opts.host ?? '127.0.0.1';
  const template = readFileSync(templatePath(product), 'utf8');

  const started = await startInOwnDir({
    prefix: `certgate-${product}-`,
    host,
    prepare: (dir, port) => {
      const file = (name: string, data: string, mode = 0o644) => {
        const p = join(dir, name);
        writeFileSync(p, data, { mode });
        return p;
      };
      const vars: TemplateVars = {
        LISTEN_HOST: host,
        LISTEN_PORT: String(port),
        TLS_CERT: file('tls-cert.pem', opts.serverCertPem),
        TLS_KEY: file('tls-key.pem', opts.serverKeyPem, 0o600),
        TLS_BUNDLE: file('tls-bundle.pem', opts.serverCertPem + opts.serverKeyPem, 0o600),
        CLIENT_CA: file('client-ca.pem', opts.clientCaPem),
        CERTGATE_UPSTREAM: opts.upstream,
        RUN_DIR: dir,
        LOG_DIR: dir,
      };
      const configFile = file(spec.rendered, renderTemplate(template, { ...vars }));
      return {
        name: `${product} :${port}`,
        cmd: bin,
        configFile,
        args: spec.args(configFile, dir),
        env: spec.env?.(dir),
        readyWhen: () => tlsHandshakes(host, port),
      };
    },
  });
  return { product, url: `https://${host}:${started.port}`, ...started };
}

// ---------------------------------------------------------------------------------------------
// nginx from any template under proxy-configs/ (e.g. nginx-auth-request/, which is no TLS
// terminator: a plain-HTTP site protected by certgate's forward-auth endpoint).

export interface StartNginxTemplateOptions {
  /** Template path inside proxy-configs/, e.g. 'nginx-auth-request/nginx.conf.template'. */
  template: string;
  /** Values for the template's placeholders other than LISTEN_HOST, LISTEN_PORT, RUN_DIR, LOG_DIR. */
  vars: Record<string, string>;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface NginxInstance extends InOwnDir {
  /** http://host:port */
  readonly url: string;
}

/**
 * Starts nginx from a shipped template on a free loopback port, in its own temp directory, and
 * waits until it answers HTTP (any status). Plain-HTTP listeners only.
 */
export async function startNginxTemplate(opts: StartNginxTemplateOptions): Promise<NginxInstance> {
  const spec = PRODUCTS.nginx;
  const bin = ensureBinary(spec.binary.bin, spec.binary.debPackage);
  const host = opts.host ?? '127.0.0.1';
  const template = readFileSync(join(PROXY_CONFIGS_DIR, opts.template), 'utf8');
  const answersHttp = async (url: string) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return true;
    } catch {
      return false;
    }
  };
  const started = await startInOwnDir({
    prefix: 'certgate-nginx-',
    host,
    prepare: (dir, port) => {
      const vars = { ...opts.vars, LISTEN_HOST: host, LISTEN_PORT: String(port), RUN_DIR: dir, LOG_DIR: dir };
      const configFile = join(dir, spec.rendered);
      writeFileSync(configFile, renderTemplate(template, vars), { mode: 0o644 });
      return {
        name: `nginx (${opts.template}) :${port}`,
        cmd: bin,
        configFile,
        args: spec.args(configFile, dir),
        readyWhen: () => answersHttp(`http://${host}:${port}/`),
      };
    },
  });
  return { url: `http://${host}:${started.port}`, ...started };
}
