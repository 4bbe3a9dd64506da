import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { IDENTITY_ID } from '../config/schema.js';

export const IDENTITIES_USAGE = `certgate identities list|get ID|put ID --file FILE|delete ID [--url URL] [--admin-token TOKEN]
  Manages the identities kept in the store through a running gateway's admin API
  (/api/v1/admin/identities); every gateway sharing the store applies a change within 2 s.
  list      every identity, from the config file (source file) and the API (source api)
  get ID    one identity as JSON
  put ID    create or replace identity ID from FILE (YAML or JSON: one identity as in the config
            file's identities list; a caCertificateFile is read here and sent inline)
  delete ID remove identity ID; its tokens are revoked at once
  --url URL          the gateway (default http://127.0.0.1:8080)
  --admin-token T    an admin token (default: $CERTGATE_ADMIN_TOKEN)
  Exit 0 on success, 1 when the gateway refuses (its error code is printed), 2 on bad usage.`;

interface Options {
  url?: string;
  'admin-token'?: string;
  file?: string;
}

function usage(msg: string): number {
  process.stderr.write(`certgate identities: ${msg}\n${IDENTITIES_USAGE}\n`);
  return 2;
}

/** The identity document of FILE, with a caCertificateFile replaced by its contents. */
function readIdentityFile(file: string): Record<string, unknown> {
  const doc = parseYaml(readFileSync(file, 'utf8')) as unknown;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: must hold one identity (a mapping)`);
  const identity = { ...(doc as Record<string, unknown>) };
  if (typeof identity.caCertificateFile === 'string') {
    identity.caCertificate = readFileSync(resolve(dirname(file), identity.caCertificateFile), 'utf8');
    delete identity.caCertificateFile;
  }
  return identity;
}

export async function identitiesCommand(args: string[], values: Options): Promise<number> {
  const [sub, id] = args;
  const token = values['admin-token'] ?? process.env.CERTGATE_ADMIN_TOKEN;
  if (!sub || !['list', 'get', 'put', 'delete'].includes(sub)) return usage('give list, get, put or delete');
  if (sub !== 'list' && (!id || !IDENTITY_ID.test(id))) return usage('give an identity id ([a-z0-9._-]{1,128})');
  if (sub === 'put' && !values.file) return usage('put needs --file FILE');
  if (!token) return usage('give --admin-token or set CERTGATE_ADMIN_TOKEN');
  const base = `${(values.url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')}/api/v1/admin/identities`;
  const method = sub === 'list' || sub === 'get' ? 'GET' : sub === 'put' ? 'PUT' : 'DELETE';
  const body = sub === 'put' ? JSON.stringify(readIdentityFile(values.file!)) : undefined;
  let res: Response;
  try {
    res = await fetch(sub === 'list' ? base : `${base}/${id}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body,
    });
  } catch (e) {
    process.stderr.write(`certgate: cannot reach ${base}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}\n`);
    return 1;
  }
  const text = await res.text();
  const json = text ? (JSON.parse(text) as Record<string, any>) : {};
  if (!res.ok) {
    process.stderr.write(`certgate: ${res.status} ${json.error ?? 'error'}: ${json.message ?? text}\n`);
    return 1;
  }
  if (sub === 'list') {
    const rows = (json.identities as { id: string; source: string; name: string; scopes: string[] }[]).map((i) => [i.id, i.source, i.name, i.scopes.join(' ')]);
    const widths = [0, 1, 2].map((c) => Math.max(...[['ID', 'SOURCE', 'NAME'][c]!, ...rows.map((r) => r[c]!)].map((s) => s.length)));
    for (const r of [['ID', 'SOURCE', 'NAME', 'SCOPES'], ...rows]) {
      process.stdout.write(`${r.map((v, c) => (c < 3 ? v.padEnd(widths[c]!) : v)).join('  ').trimEnd()}\n`);
    }
  } else if (sub === 'get') {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else if (sub === 'put') {
    process.stdout.write(`${res.status === 201 ? 'created' : 'replaced'} identity "${id}"\n`);
  } else {
    process.stdout.write(`deleted identity "${id}"; its tokens are revoked\n`);
  }
  return 0;
}
