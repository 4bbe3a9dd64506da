import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { parsePemBundle, type ParsedCert } from '../pki/parsing/certificate.js';
import { httpCrlUrl } from '../revocation/fetch.js';
import { httpOcspUrl } from '../revocation/ocsp-fetch.js';
import { configSchema, identitySchema, type IdentityConfig, type RawConfig } from './schema.js';
import { ConfigError, expandEnv, type ConfigProblem } from './env.js';

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
  return loadConfigText(text, file, env);
}

/** Parses, expands, validates and resolves the text of `file` (a reload reads the text itself). */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
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
  // Every problem is collected, so a refused reload (or startup) names them all at once.
  const problems: ConfigProblem[] = [];
  // Unset variables are refused first, all named in one error (see expandEnv).
  const expanded = expandEnv(doc, env) as Record<string, unknown>;
  if (!expanded || typeof expanded !== 'object' || Array.isArray(expanded)) {
    throw new ConfigError([], 'the configuration must be a YAML mapping');
  }
  if (env.REDIS_URL) {
    expanded.store = { ...((expanded.store as object | undefined) ?? {}), url: env.REDIS_URL };
  }
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success) throw ConfigError.of(zodProblems(parsed.error));
  const raw = parsed.data;
  const at = (p: string) => resolve(opts.baseDir, p);

  const identities = raw.identities.map((id, i) => resolveIdentity(id, ['identities', i], at, problems));
  const file = (p: string, key: (string | number)[]) => collect(problems, () => readable(at(p), key)) ?? p;
  const tls = raw.server.tls
    ? {
        ...raw.server.tls,
        cert: file(raw.server.tls.cert, ['server', 'tls', 'cert']),
        key: file(raw.server.tls.key, ['server', 'tls', 'key']),
        clientCa: raw.server.tls.clientCa ? file(raw.server.tls.clientCa, ['server', 'tls', 'clientCa']) : undefined,
      }
    : undefined;
  if (problems.length > 0) throw ConfigError.of(problems);

  return {
    ...raw,
    server: { ...raw.server, tls },
    keys: { ...raw.keys, dir: at(raw.keys.dir) },
    routes: raw.routes.map((r) => ({ ...r, upstreamCaFile: r.upstreamCaFile ? at(r.upstreamCaFile) : undefined })),
    identities: identities as Identity[],
    baseDir: opts.baseDir,
    source: opts.source ?? '(inline)',
  };
}

/**
 * One identity document (as the file holds it, or as PUT through the admin API), validated by the
 * same schema and resolved the same way. `files: false` refuses references to the gateway's
 * filesystem (caCertificateFile, crl.files): an identity kept in the shared store must mean the
 * same on every gateway, and the admin API must not read local files.
 */
export function buildIdentity(doc: unknown, opts: { baseDir: string; files: boolean }): Identity {
  const problems: ConfigProblem[] = [];
  const parsed = identitySchema.safeParse(doc);
  if (!parsed.success) throw ConfigError.of(zodProblems(parsed.error));
  if (!opts.files) {
    if (parsed.data.caCertificateFile !== undefined) problems.push({ path: ['caCertificateFile'], reason: 'not allowed here: give the PEM bundle inline as caCertificate' });
    if ((parsed.data.revocation?.crl?.files.length ?? 0) > 0) problems.push({ path: ['revocation', 'crl', 'files'], reason: 'not allowed here: use crl.urls or crl.fromCertificate' });
    if (problems.length > 0) throw ConfigError.of(problems);
  }
  const identity = resolveIdentity(parsed.data, [], (p) => resolve(opts.baseDir, p), problems);
  if (problems.length > 0) throw ConfigError.of(problems);
  return identity as Identity;
}

/** Reads and parses the identity's CA bundle and checks its revocation sources; problems are collected. */
function resolveIdentity(id: IdentityConfig, key: (string | number)[], at: (p: string) => string, problems: ConfigProblem[]): Identity | undefined {
  const where = [...key, id.caCertificateFile ? 'caCertificateFile' : 'caCertificate'];
  const bundle = collect(problems, () => {
    let pem = id.caCertificate ?? '';
    if (id.caCertificateFile) {
      try {
        pem = readFileSync(at(id.caCertificateFile), 'utf8');
      } catch (e) {
        throw new ConfigError(where, `cannot read ${at(id.caCertificateFile)}: ${(e as Error).message}`);
      }
    }
    let certs: ParsedCert[];
    try {
      certs = parsePemBundle(pem);
    } catch (e) {
      throw new ConfigError(where, `not a PEM certificate bundle: ${(e as Error).message}`);
    }
    if (certs.length === 0) throw new ConfigError(where, 'holds no PEM certificate');
    return certs;
  });
  const revocation = collect(problems, () => resolveRevocation(id.revocation, [...key, 'revocation'], at));
  if (!bundle) return undefined;
  return {
    ...id,
    caCertificateFile: id.caCertificateFile ? at(id.caCertificateFile) : undefined,
    revocation,
    bundle,
  };
}

/** Runs one check; a ConfigError is added to `problems` (and undefined returned) instead of thrown. */
function collect<T>(problems: ConfigProblem[], check: () => T): T | undefined {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
    return undefined;
  }
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

/** Every zod issue as a problem: the key path and the reason. */
function zodProblems(err: z.ZodError): ConfigProblem[] {
  return err.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      return { path, reason: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` };
    }
    return { path, reason: issue.message };
  });
}
