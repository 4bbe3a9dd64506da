/**
 * docker-compose.yml cannot run here (no Docker), so check what would break it statically: every
 * file it mounts or builds from exists, and the ports, addresses, paths and names it wires together
 * agree with the configs it mounts (certgate's YAML, the nginx template, the Dockerfile).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { DEV_FILES } from '../../src/cli/dev-pki.js';
import { CidrSet } from '../../src/util/cidr.js';
import { REPO_ROOT, templatePlaceholders, trustedProxyFor } from '../helpers/terminators.js';

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
}
interface Compose {
  services: Record<string, Service>;
  networks?: Record<string, { ipam?: { config?: { subnet: string }[] } }>;
  volumes?: Record<string, unknown>;
}

const compose = parseYaml(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const svc = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};

interface Mount {
  source: string;
  target: string;
  bind: boolean;
}
const mounts = (s: Service): Mount[] =>
  (s.volumes ?? []).map((v) => {
    const [source, target] = v.split(':') as [string, string];
    return { source, target, bind: source.startsWith('.') || source.startsWith('/') };
  });

/** The repo file bind-mounted at container path `target` of service `s`. */
function hostFileAt(s: Service, target: string): string {
  const m = mounts(s).find((x) => x.bind && x.target === target);
  if (!m) throw new Error(`nothing is bind-mounted at ${target}`);
  return join(REPO_ROOT, m.source);
}

/** The mount (bind or volume) whose target contains container path `p`. */
const mountHolding = (s: Service, p: string) => mounts(s).find((m) => p === m.target || p.startsWith(m.target.replace(/\/$/, '') + '/'));

const hostPort = (hp: string) => {
  const m = /^([^:]+):(\d+)$/.exec(hp);
  if (!m) throw new Error(`not host:port: ${hp}`);
  return { host: m[1]!, port: Number(m[2]) };
};

const certgateService = svc('certgate');
const configPath = certgateService.command![certgateService.command!.indexOf('--config') + 1]!;
const certgateConfigFile = hostFileAt(certgateService, configPath);
const certgateConfig = parseYaml(readFileSync(certgateConfigFile, 'utf8')) as Record<string, any>;
const nginx = svc('nginx');
const nginxEnv = nginx.environment ?? {};

describe('docker-compose.yml', () => {
  it('every file it mounts exists in the repo', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const m of mounts(s)) {
        if (m.bind) expect(existsSync(join(REPO_ROOT, m.source)), `${name}: ${m.source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: named volume ${m.source}`).toContain(m.source);
      }
    }
  });

  it('every service it builds has a Dockerfile whose COPY sources exist and are not .dockerignored', () => {
    const built = Object.values(compose.services).filter((s) => s.build !== undefined);
    expect(built.length).toBeGreaterThan(0);
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const s of built) {
      const ctx = typeof s.build === 'string' ? s.build : s.build!.context;
      const dockerfile = join(REPO_ROOT, ctx, typeof s.build === 'object' && s.build.dockerfile ? s.build.dockerfile : 'Dockerfile');
      const text = readFileSync(dockerfile, 'utf8');
      const sources = [...text.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
      expect(sources.length).toBeGreaterThan(0);
      for (const src of sources) {
        expect(existsSync(join(REPO_ROOT, ctx, src)), `COPY ${src}`).toBe(true);
        expect(ignored, `COPY ${src} is excluded by .dockerignore`).not.toContain(src.replace(/\/$/, ''));
      }
    }
  });

  it('certgate: the mounted config is valid for certgate and its files live in mounted volumes', () => {
    const parsed = configSchema.safeParse(certgateConfig);
    expect(parsed.success, JSON.stringify(!parsed.success && parsed.error.issues)).toBe(true);
    for (const id of certgateConfig.identities as { caCertificateFile?: string }[]) {
      if (id.caCertificateFile) expect(mountHolding(certgateService, id.caCertificateFile), id.caCertificateFile).toBeDefined();
    }
    // Signing keys must survive a container restart: keys.dir is a volume.
    const keysMount = mountHolding(certgateService, certgateConfig.keys.dir);
    expect(keysMount?.bind).toBe(false);
  });

  it('certgate: the image healthcheck and `expose` use the configured HTTP port', () => {
    const port = certgateConfig.server.port as number;
    expect(certgateService.expose).toContain(String(port));
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const healthUrl = certgateService.environment?.CERTGATE_HEALTH_URL ?? /^ENV CERTGATE_HEALTH_URL=(\S+)$/m.exec(dockerfile)?.[1];
    expect(healthUrl).toBeDefined();
    expect(new URL(healthUrl!).port).toBe(String(port));
    expect(new URL(healthUrl!).pathname).toBe('/healthz');
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^USER (?!root)\S+/m);
  });

  it('redis: persistent (appendonly) and the one certgate\'s store URL names', () => {
    const redis = svc('redis');
    expect(redis.command?.join(' ')).toMatch(/--appendonly yes/);
    const url = new URL(certgateConfig.store.url);
    expect(url.protocol).toBe('redis:');
    expect(compose.services[url.hostname], `store.url host ${url.hostname}`).toBeDefined();
    expect(Number(url.port || 6379)).toBe(6379);
    expect(mounts(redis).some((m) => m.target === '/data' && !m.bind)).toBe(true);
  });

  it('nginx: runs THE shipped template, with every placeholder defined', () => {
    const m = mounts(nginx).find((x) => x.target.startsWith('/etc/nginx/templates/'));
    expect(m?.source).toBe('./proxy-configs/nginx/nginx.conf.template');
    // The image renders templates/X.template to $NGINX_ENVSUBST_OUTPUT_DIR/X: the main config.
    expect(posix.join(nginxEnv.NGINX_ENVSUBST_OUTPUT_DIR ?? '/etc/nginx/conf.d', posix.basename(m!.target, '.template'))).toBe('/etc/nginx/nginx.conf');
    const placeholders = templatePlaceholders(readFileSync(join(REPO_ROOT, m!.source), 'utf8'));
    expect(placeholders.length).toBeGreaterThan(0);
    for (const p of placeholders) expect(nginxEnv[p], `nginx environment ${p}`).toBeDefined();
  });

  it('nginx: publishes its LISTEN_PORT and forwards to certgate\'s HTTP port', () => {
    const published = (nginx.ports ?? []).map((p) => p.split(':').at(-1));
    expect(published).toContain(nginxEnv.LISTEN_PORT);
    const up = hostPort(nginxEnv.CERTGATE_UPSTREAM!);
    expect(compose.services[up.host], `CERTGATE_UPSTREAM host ${up.host}`).toBe(certgateService);
    expect(up.port).toBe(certgateConfig.server.port);
    // Nothing else reaches certgate from outside: it publishes no port.
    expect(certgateService.ports ?? []).toEqual([]);
    expect(nginx.depends_on?.certgate?.condition).toBe('service_healthy');
  });

  it('nginx: its TLS files come from the dev PKI volume the pki service generates', () => {
    const pki = svc('pki');
    const pkiDir = pki.entrypoint!.at(-1)!;
    const pkiVolume = mounts(pki).find((m) => m.target === pkiDir && !m.bind)!;
    expect(pkiVolume).toBeDefined();
    // The generator script it runs is the one mounted into it.
    expect(mounts(pki).some((m) => m.bind && pki.entrypoint!.includes(m.target))).toBe(true);
    for (const key of ['TLS_CERT', 'TLS_KEY', 'CLIENT_CA']) {
      const p = nginxEnv[key]!;
      const holder = mountHolding(nginx, p);
      expect(holder?.source, `${key}=${p}`).toBe(pkiVolume.source);
      expect(DEV_FILES as readonly string[], `${key}=${p}`).toContain(posix.relative(holder!.target, p));
    }
    for (const id of certgateConfig.identities as { caCertificateFile?: string }[]) {
      const holder = mountHolding(certgateService, id.caCertificateFile!);
      expect(holder?.source).toBe(pkiVolume.source);
      expect(DEV_FILES as readonly string[]).toContain(posix.relative(holder!.target, id.caCertificateFile!));
    }
  });

  it('certgate trusts exactly nginx\'s fixed address, with the header setup of proxy-configs/nginx', () => {
    const nets = nginx.networks as Record<string, { ipv4_address?: string }>;
    const [netName, net] = Object.entries(nets)[0]!;
    const addr = net.ipv4_address!;
    expect(addr).toBeDefined();
    const subnet = compose.networks?.[netName]?.ipam?.config?.[0]?.subnet;
    expect(new CidrSet([subnet!]).contains(addr)).toBe(true);
    // certgate must be on the same network, or nginx reaches it through some other address.
    const cgNets = certgateService.networks;
    expect(Array.isArray(cgNets) ? cgNets : Object.keys(cgNets ?? {})).toContain(netName);

    const proxies = certgateConfig.trustedProxies as { cidrs: string[] }[];
    expect(proxies).toHaveLength(1);
    expect(proxies[0]).toEqual(trustedProxyFor('nginx', proxies[0]!.cidrs));
    expect(proxies[0]!.cidrs).toEqual([`${addr}/32`]);
  });

  it('hello: certgate\'s route, JWT audience and issuer match the example upstream', () => {
    const hello = svc('hello');
    const env = hello.environment ?? {};
    const route = (certgateConfig.routes as { upstream: string; upstreamAuth?: { audience: string } }[])[0]!;
    const upstream = new URL(route.upstream);
    expect(compose.services[upstream.hostname]).toBe(hello);
    expect(upstream.port).toBe(env.PORT);
    expect(hello.expose).toContain(env.PORT);
    expect(env.AUDIENCE).toBe(route.upstreamAuth?.audience);
    expect(env.ISSUER).toBe(certgateConfig.issuer);
    const jwks = new URL(env.JWKS_URL!);
    expect(compose.services[jwks.hostname]).toBe(certgateService);
    expect(Number(jwks.port)).toBe(certgateConfig.server.port);
    const script = mounts(hello).find((m) => hello.command!.includes(m.target));
    expect(script && statSync(join(REPO_ROOT, script.source)).isFile()).toBe(true);
  });
});
