import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import type Koa from 'koa';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/http/server.js';
import { makeTempDir } from '../helpers/launcher.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/http/api/openapi.js';
import { ERROR_STATUS, EXAMPLE_TOKEN, OPERATIONS } from '../../src/http/api/operations.js';
import { createApp } from '../../src/http/app.js';
import { CERTGATE_MAIN, startCertgate, type CertgateProcess } from '../helpers/certgate-process.js';
import { getJson, LOGIN_PATH, postJson, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, nginxEscaped, type MintedCert, type TestPki } from '../helpers/pki.js';
import { REPO_ROOT } from '../helpers/terminators.js';

type Json = Record<string, any>;

const ADMIN_TOKEN = 'admin-secret-0123456789abcdef';
const RS_SECRET = 'introspection-secret-0123456789';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let pki: TestPki;
let agent: MintedCert;
let upstream: Server;
let upstreamUrl: string;

function configDoc(p: TestPki) {
  return {
    identities: [{ id: 'build-agents', caCertificate: p.rootA.pem + p.interA.pem, allowedCommonNames: ['agent-*'], scopes: ['certificates:request'] }],
    trustedProxies: [{ cidrs: ['127.0.0.1/32', '::1/128'], header: 'x-ssl-client-cert', format: 'nginx' }],
    admin: { tokens: [ADMIN_TOKEN] },
    introspection: { clients: [{ id: 'rs-1', secret: RS_SECRET }] },
    routes: [
      { pathPrefix: '/api/certificate', upstream: upstreamUrl, requiredScopes: ['certificates:request'] },
      { pathPrefix: '/downstream/', upstream: upstreamUrl },
    ],
  };
}

beforeAll(async () => {
  pki = await makeTestPki();
  agent = await pki.leaf({ cn: 'agent-1' });
  // A real upstream for the configured routes: it answers 200 with the path it saw.
  upstream = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ upstream: true, path: req.url }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => upstream?.close(r));
});

/** Koa's path syntax → OpenAPI's: `:id` → `{id}`, `{*rest}` → `{rest}`. */
const openApiPath = (koaPath: string) => koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\{\*([A-Za-z0-9_]+)\}/g, '{$1}');

/**
 * What the app serves: every route layer of every router mounted on the app, as `METHOD path`
 * (`ANY` for router.all; the HEAD Koa adds to each GET left out), plus the configured routes.
 */
function servedRoutes(app: Koa, configuredPrefixes: string[]): Set<string> {
  const out = new Set<string>();
  for (const mw of app.middleware as Array<{ router?: { stack: Array<{ path: string; methods: string[] }> } }>) {
    for (const layer of mw.router?.stack ?? []) {
      if (layer.methods.length === 0) continue; // router.use middleware, not a route
      const path = openApiPath(layer.path);
      if (layer.methods.length > 20) {
        out.add(`ANY ${path}`);
        continue;
      }
      for (const m of layer.methods) if (!(m === 'HEAD' && layer.methods.includes('GET'))) out.add(`${m} ${path}`);
    }
  }
  // A configured route answers its prefix and everything below it, whatever the method.
  for (const prefix of configuredPrefixes) {
    out.add(`ANY ${prefix}`);
    out.add(`ANY ${prefix.replace(/\/$/, '')}/{path}`);
  }
  return out;
}

/** What the document lists: `ANY path` for an `x-any-method` path item, else `METHOD path`. */
function documentedRoutes(doc: Json): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    if (item['x-any-method']) out.add(`ANY ${path}`);
    else for (const m of HTTP_METHODS) if (item[m]) out.add(`${m.toUpperCase()} ${path}`);
  }
  return out;
}

function operationsOf(doc: Json): Array<{ path: string; method: string; op: Json; anyMethod: boolean }> {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method], anyMethod: !!item['x-any-method'] })),
  );
}

describe('the OpenAPI document', () => {
  let gw: TestGateway;
  let doc: Json;

  beforeAll(async () => {
    gw = await startTestGateway(configDoc(pki));
    const res = await getJson(gw.url + '/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('lists exactly the routes the app serves, both ways', () => {
    const served = servedRoutes(createApp(gw.gateway), gw.config.routes.map((r) => r.pathPrefix));
    const documented = documentedRoutes(doc);
    expect([...documented].filter((r) => !served.has(r)), 'documented but not served').toEqual([]);
    expect([...served].filter((r) => !documented.has(r)), 'served but not documented').toEqual([]);
    // The configured routes come from the live config, and the gateway's own routes are all there.
    expect(documented).toContain('ANY /api/certificate/{path}');
    expect(documented).toContain('ANY /downstream/{path}');
    expect(documented).toContain('GET /openapi.json');
    expect(documented).toContain('ANY /api/v1/auth/forward/{rest}');
  });

  it('routes a request to every documented operation (none answers 404 not_found or 405)', async () => {
    for (const { path, method } of operationsOf(doc)) {
      const url = gw.url + path.replace(/\{[^}]+\}/g, 'x');
      const res = await fetch(url, { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: ['get', 'head'].includes(method) ? undefined : '{}' });
      const text = await res.text();
      expect(res.status, `${method} ${path}`).not.toBe(405);
      if (res.status === 404) expect(JSON.parse(text).error, `${method} ${path}`).not.toBe('not_found');
    }
  });

  it('is valid OpenAPI 3.1 (swagger-parser validates it against the 3.1 schema and resolves every $ref)', async () => {
    const api = (await SwaggerParser.validate(structuredClone(doc) as never)) as Json;
    expect(api.openapi).toBe('3.1.0');
  });

  it('is structurally sound: refs resolve, operationIds are unique, every operation answers and names its error codes', () => {
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === '$ref' && typeof x === 'string' ? refs.push(x) : walk(x));
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref.startsWith('#/'), ref).toBe(true);
      const target = ref.slice(2).split('/').reduce<any>((o, k) => o?.[k], doc);
      expect(target, ref).toBeTypeOf('object');
    }
    const ops = operationsOf(doc);
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, op } of ops) {
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => /^2\d\d$/.test(s) || s === 'default'), `${method} ${path}`).toBe(true);
      for (const code of op['x-error-codes']) {
        const status = String(ERROR_STATUS[code as keyof typeof ERROR_STATUS]);
        expect(op.responses[status]?.['x-error-codes'], `${method} ${path} ${code}`).toContain(code);
        expect(op.responses[status].content['application/json'].schema.$ref).toBe('#/components/schemas/Error');
      }
      for (const p of path.match(/\{[^}]+\}/g) ?? []) expect(op.parameters.map((x: Json) => `{${x.name}}`)).toContain(p);
      if (op.security.length) expect(doc.components.securitySchemes[Object.keys(op.security[0])[0]!]).toBeDefined();
    }
    expect(doc.components.schemas.Error.required).toEqual(['statusCode', 'error', 'message', 'reqId']);
  });

  it('documents every refusal code the source can throw', () => {
    const src = join(REPO_ROOT, 'src');
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const thrown = new Set<string>();
    for (const file of files(src).filter((f) => f.endsWith('.ts') && !f.includes('/cli/') && !f.includes('/client/'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:certRefused|tokenRefused|forbidden|badRequest|tooManyRequests|new CertgateError)\(\s*'([a-z_]+)'/g)) thrown.add(m[1]!);
      for (const m of text.matchAll(/\[\s*'(token_[a-z_]+)',/g)) thrown.add(m[1]!); // the token store's refusal table
      for (const m of text.matchAll(/params: \{ code: '([a-z_]+)' \}/g)) thrown.add(m[1]!); // schema refusals
    }
    // Node's HTTP parser refusals and the router's own answers, documented once for every request.
    const parser = readFileSync(join(src, 'http', 'client-error.ts'), 'utf8');
    const anyRequest = [...parser.matchAll(/\[(\d{3}), '([a-z_]+)'/g)].map((m) => [m[2], Number(m[1])]);
    expect(anyRequest.length).toBeGreaterThan(3);
    for (const [code, status] of anyRequest) expect(doc['x-any-request-error-codes'][code!], String(code)).toBe(status);
    expect(doc['x-any-request-error-codes']).toMatchObject({ not_found: 404, method_not_allowed: 405 });
    expect(thrown.size).toBeGreaterThan(50);
    const documented = new Set(operationsOf(doc).flatMap(({ op }) => op['x-error-codes'] as string[]));
    expect([...thrown].filter((c) => !documented.has(c)).sort(), 'thrown but not documented').toEqual([]);
    expect(Object.keys(ERROR_STATUS).filter((c) => !documented.has(c)), 'catalogued but on no operation').toEqual([]);
  });

  it('accepts the request built from every operation of the document, with its example body and auth', async () => {
    const certHeader = nginxEscaped(agent, pki.interA);
    const freshToken = async () => {
      const res = await postJson(gw.url + LOGIN_PATH, { identityId: 'build-agents' }, { 'x-ssl-client-cert': certHeader });
      expect(res.status).toBe(200);
      return res.body.accessToken as string;
    };
    // Creations first, deletions last, so each operation meets the state it documents.
    const rank = (m: string) => ({ put: 0, post: 1, delete: 3 })[m] ?? 2;
    const ops = operationsOf(doc).sort((a, b) => rank(a.method) - rank(b.method));
    const withBody = new Set<string>();
    for (const { path, method, op } of ops) {
      const token = await freshToken();
      const headers: Record<string, string> = {};
      const scheme = op.security[0] ? Object.keys(op.security[0])[0] : undefined;
      if (scheme === 'clientCertificate') headers['x-ssl-client-cert'] = certHeader;
      if (scheme === 'bearer') headers.authorization = `Bearer ${token}`;
      if (scheme === 'adminBearer') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
      if (scheme === 'introspectionBasic') headers.authorization = 'Basic ' + Buffer.from(`rs-1:${RS_SECRET}`).toString('base64');
      const medias = Object.entries((op.requestBody?.content ?? { '': undefined }) as Json);
      for (const [type, media] of medias) {
        let body: string | undefined;
        if (media) {
          expect(media.example, `${op.operationId} has an example`).toBeDefined();
          // The document's placeholder token stands for a real one.
          const example = JSON.parse(JSON.stringify(media.example).replaceAll(EXAMPLE_TOKEN, token));
          body = type === 'application/x-www-form-urlencoded' ? new URLSearchParams(example).toString() : JSON.stringify(example);
          withBody.add(`${op.operationId} ${type}`);
        }
        const url = gw.url + path.replace('{id}', 'example-api').replace(/\{[^}]+\}/g, 'some/sub/path');
        const res = await fetch(url, { method: method.toUpperCase(), headers: { ...headers, ...(type ? { 'content-type': type } : {}) }, body });
        const text = await res.text();
        const statuses = Object.keys(op.responses).filter((s) => /^2\d\d$/.test(s));
        if (statuses.length) expect(statuses, `${method} ${path} ${type} → ${res.status} ${text}`).toContain(String(res.status));
        else expect(res.status, `${method} ${path} → ${text}`).toBeLessThan(400); // a route: the upstream's answer
        const catalogued = OPERATIONS.find((o) => o.operationId === op.operationId)?.responses[res.status]?.schema;
        // The answer has the documented shape.
        if (catalogued) expect(catalogued.safeParse(JSON.parse(text)).error, `${op.operationId}: ${text}`).toBeUndefined();
        if (op.operationId === 'introspectToken') expect(JSON.parse(text).active).toBe(true);
      }
    }
    // Every body the document describes was sent.
    expect([...withBody].sort()).toEqual([
      'introspectToken application/json',
      'introspectToken application/x-www-form-urlencoded',
      'login application/json',
      'putIdentity application/json',
      'renewToken application/json',
      'revokeCertificate application/json',
      'revokeToken application/json',
    ]);
  });

  it('refuses a malformed body with the stable codes, validated by the same schemas', async () => {
    const cert = { 'x-ssl-client-cert': nginxEscaped(agent, pki.interA) };
    expect((await postJson(gw.url + LOGIN_PATH, '{"identityId": 7}', cert)).body).toMatchObject({ statusCode: 400, error: 'invalid_body', message: '"identityId" must be a non-empty string' });
    expect((await postJson(gw.url + LOGIN_PATH, '{"identityId": null, "organizationSlug": "acme"}', cert)).status).toBe(200);
    expect((await postJson(gw.url + '/api/v1/auth/token/renew', {})).body).toMatchObject({ error: 'invalid_body', message: '"accessToken" is required' });
    expect((await postJson(gw.url + '/api/v1/auth/token/revoke', { accessToken: 5 })).body).toMatchObject({ error: 'invalid_body', message: '"accessToken" must be a non-empty string' });
    const basic = { authorization: 'Basic ' + Buffer.from(`rs-1:${RS_SECRET}`).toString('base64') };
    expect((await postJson(gw.url + '/oauth2/introspect', { token: 5 }, basic)).body).toMatchObject({ statusCode: 400, error: 'invalid_body' });
    expect((await postJson(gw.url + '/oauth2/introspect', {}, basic)).body).toEqual({ active: false });
    // Certificate revoke: unknown fields first, then which form of body, then the fields, as the hand-written checks did.
    const revoke = (body: unknown) => postJson(gw.url + '/api/v1/admin/certificates/revoke', body, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect((await revoke({ sha256: 'xyz', reason: 'keyCompromise' })).body).toMatchObject({ error: 'invalid_body', message: 'unknown field(s): reason; give {sha256} or {issuer, serial}' });
    expect((await revoke({ sha256: 'xyz', issuer: 'garbage', serial: '01' })).body).toMatchObject({ error: 'invalid_certificate_selector', message: 'give exactly one of {sha256} or {issuer, serial}' });
    expect((await revoke({ issuer: 'garbage' })).body).toMatchObject({ error: 'invalid_certificate_selector', message: '"issuer" and "serial" go together' });
    expect((await revoke({ sha256: 42 })).body.error).toBe('invalid_sha256');
    expect((await revoke({ issuer: 'CN=Test Root A, O=certgate tests', serial: 'zz' })).body.error).toBe('invalid_serial');
    expect((await revoke({ issuer: 'CN=Test Root A, O=certgate tests', serial: '0x01' })).status).toBe(200);
  });
});

describe('GET /openapi.json after a reload', () => {
  it('lists the routes of the configuration in force', async () => {
    const dir = makeTempDir();
    const file = join(dir, 'certgate.yaml');
    const doc = (routes: unknown[]) => ({ issuer: 'https://certgate.test', server: { host: '127.0.0.1', port: 0 }, store: { url: 'memory' }, keys: { dir: join(dir, 'keys') }, routes });
    writeFileSync(file, stringify(doc([{ pathPrefix: '/before', upstream: upstreamUrl }])));
    const gw = await startGateway(loadConfigFile(file, {}), { configFile: file, log: pino({ level: 'silent' }) });
    try {
      const paths = async () => Object.keys((await getJson(`http://127.0.0.1:${gw.httpPort}/openapi.json`)).body.paths).filter((p) => /^\/(before|after)/.test(p));
      expect(await paths()).toEqual(['/before', '/before/{path}']);
      writeFileSync(file, stringify(doc([{ pathPrefix: '/after', upstream: upstreamUrl }])));
      expect((await gw.reload()).ok).toBe(true);
      expect(await paths()).toEqual(['/after', '/after/{path}']);
    } finally {
      await gw.close();
    }
  });
});

describe('certgate openapi (compiled CLI)', () => {
  let proc: CertgateProcess;
  const cli = (args: string[]) => spawnSync(process.execPath, [CERTGATE_MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CERTGATE_CONFIG: '' } });

  beforeAll(async () => {
    proc = await startCertgate({ config: { store: { url: 'memory' }, log: { level: 'warn' }, ...configDoc(pki) } });
  });
  afterAll(async () => {
    await proc?.stop();
  });

  it('prints the document GET /openapi.json serves for the same config', async () => {
    const served = await getJson(proc.url + '/openapi.json');
    expect(served.status).toBe(200);
    const r = cli(['openapi', '--config', proc.configFile]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(served.body);
    expect(served.body.servers).toEqual([{ url: 'https://certgate.test' }]);
    expect(served.body.paths['/api/certificate']['x-any-method']).toBe(true);
  });

  it('without a config, prints the built-in routes only', () => {
    const r = cli(['openapi']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toEqual(buildOpenApiDocument({ routes: [] }));
    expect(doc.servers).toBeUndefined();
    expect(Object.keys(doc.paths)).toContain('/api/v1/auth/tls-cert-auth/login');
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/certificate'))).toEqual([]);
  });

  it('has --help', () => {
    const r = cli(['openapi', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('certgate openapi [--config FILE]');
    expect(cli(['--help']).stdout).toMatch(/openapi\s+print the OpenAPI 3\.1 document/);
  });
});
