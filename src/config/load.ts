import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { parsePemBundle, type ParsedCert } from '../pki/certificate.js';
import { httpCrlUrl } from '../revocation/fetch.js';
import { httpOcspUrl } from '../revocation/ocsp-fetch.js';
import { configSchema, type IdentityConfig, type RawConfig } from './schema.js';
import { ConfigError, expandEnv } from './env.js';

export interface Identity extends IdentityConfig {
  /** Every certificate of the identity's bundle, parsed once at startup; all are trust anchors. */
  bundle: ParsedCert[];
}

export interface Config extends Omit<RawConfig, 'identities'> {
  identities: Identity[];
  /** Directory relative paths were resolved against. */
  baseDir: string;
  /** Where the configuration came from, for logs. */
  source: string;
}

/** Reads, expands, validates and resolves a configuration file. Throws ConfigError on any defect. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([], `cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    // yaml's message quotes the offending source lines, which may hold a secret: position only.
    const pos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const code = (e as { code?: string }).code ?? 'syntax error';
    throw new ConfigError([], `not valid YAML (${code}${pos ? ` at line ${pos.line}, column ${pos.col}` : ''})`);
  }
  return buildConfig(doc ?? {}, { baseDir: dirname(resolve(file)), source: file, env });
}

/** Validates an already-parsed document (YAML object) into a typed, resolved configuration. */
export function buildConfig(
  doc: unknown,
  opts: { baseDir: string; source?: string; env?: NodeJS.ProcessEnv },
): Config {
  const env = opts.env ?? process.env;
  const expanded = expandEnv(doc, env) as Record<string, unknown>;
  if (!expanded || typeof expanded !== 'object' || Array.isArray(expanded)) {
    throw new ConfigError([], 'the configuration must be a YAML mapping');
  }
  if (env.REDIS_URL) {
    expanded.store = { ...((expanded.store as object | undefined) ?? {}), url: env.REDIS_URL };
  }
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success) throw firstIssue(parsed.error);
  const raw = parsed.data;
  const at = (p: string) => resolve(opts.baseDir, p);

  const identities = raw.identities.map((id, i): Identity => {
    const where = ['identities', i, id.caCertificateFile ? 'caCertificateFile' : 'caCertificate'];
    let pem = id.caCertificate ?? '';
    if (id.caCertificateFile) {
      try {
        pem = readFileSync(at(id.caCertificateFile), 'utf8');
      } catch (e) {
        throw new ConfigError(where, `cannot read ${at(id.caCertificateFile)}: ${(e as Error).message}`);
      }
    }
    let bundle: ParsedCert[];
    try {
      bundle = parsePemBundle(pem);
    } catch (e) {
      throw new ConfigError(where, `not a PEM certificate bundle: ${(e as Error).message}`);
    }
    if (bundle.length === 0) throw new ConfigError(where, 'holds no PEM certificate');
    const revocation = resolveRevocation(id.revocation, ['identities', i, 'revocation'], at);
    return {
      ...id,
      caCertificateFile: id.caCertificateFile ? at(id.caCertificateFile) : undefined,
      revocation,
      bundle,
    };
  });

  const tls = raw.server.tls
    ? {
        ...raw.server.tls,
        cert: readable(at(raw.server.tls.cert), ['server', 'tls', 'cert']),
        key: readable(at(raw.server.tls.key), ['server', 'tls', 'key']),
        clientCa: raw.server.tls.clientCa ? readable(at(raw.server.tls.clientCa), ['server', 'tls', 'clientCa']) : undefined,
      }
    : undefined;

  return {
    ...raw,
    server: { ...raw.server, tls },
    keys: { ...raw.keys, dir: at(raw.keys.dir) },
    routes: raw.routes.map((r) => ({ ...r, upstreamCaFile: r.upstreamCaFile ? at(r.upstreamCaFile) : undefined })),
    identities,
    baseDir: opts.baseDir,
    source: opts.source ?? '(inline)',
  };
}

/**
 * Revocation sources are checked here so that a policy that cannot be enforced (a CRL URL or an
 * OCSP responder certgate would never ask) is refused at startup rather than failing at login.
 */
function resolveRevocation(
  rev: IdentityConfig['revocation'],
  key: (string | number)[],
  at: (p: string) => string,
): IdentityConfig['revocation'] {
  if (!rev) return rev;
  const crl = rev.crl;
  if (!rev.ocsp?.enabled && !(crl && (crl.fromCertificate || crl.urls.length > 0 || crl.files.length > 0))) {
    // A revocation block that names no source would read as "revocation is checked" and check nothing.
    throw new ConfigError(key, 'names no revocation source: enable crl.fromCertificate, list crl.urls or crl.files, or enable ocsp');
  }
  // The schema has already checked that these are URLs: the fetchers' checks only refuse schemes.
  if (rev.ocsp?.responder !== undefined && !accepts(httpOcspUrl, rev.ocsp.responder)) {
    throw new ConfigError([...key, 'ocsp', 'responder'], 'only http OCSP responders are supported');
  }
  if (!rev.crl) return rev;
  rev.crl.urls.forEach((u, j) => {
    if (!accepts(httpCrlUrl, u)) throw new ConfigError([...key, 'crl', 'urls', j], 'only http and https CRL URLs are supported');
  });
  const files = rev.crl.files.map((f, j) => readable(at(f), [...key, 'crl', 'files', j]));
  return { ...rev, crl: { ...rev.crl, files } };
}

/** True when the fetcher's URL check lets `url` through. */
function accepts(check: (raw: string) => URL, url: string): boolean {
  try {
    check(url);
    return true;
  } catch {
    return false;
  }
}

function readable(path: string, key: (string | number)[]): string {
  try {
    readFileSync(path);
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as Error).message}`);
  }
  return path;
}

function firstIssue(err: z.ZodError): ConfigError {
  const issue = err.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    return new ConfigError(path, `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  return new ConfigError(path, issue.message);
}
