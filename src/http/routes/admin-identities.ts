import type Router from '@koa/router';
import { audit } from '../../audit/events.js';
import { ConfigError } from '../../config/env.js';
import { buildIdentity, type Identity } from '../../config/load.js';
import { IDENTITY_ID } from '../../config/schema.js';
import { CertgateError, badRequest } from '../../errors.js';
import { readJsonObject } from '../body.js';
import type { Gateway } from '../gateway.js';

/** An identity document with a few CA certificates fits easily; the default 16 KiB may not. */
const MAX_IDENTITY_BYTES = 256 * 1024;

const notFound = (id: string) => new CertgateError('identity_not_found', 404, `no identity "${id}"`);
const managedByConfig = (id: string) =>
  new CertgateError('identity_managed_by_config', 409, `identity "${id}" comes from the configuration file; change it there`);

function checkId(id: string): void {
  if (!IDENTITY_ID.test(id)) throw badRequest('invalid_identity_id', 'identity ids match [a-z0-9._-]{1,128}');
}

/**
 * A refused document, with one code for what went wrong first by kind: unknown keys, then the CA
 * bundle, then anything else; the message names every problem (key and reason).
 */
function refusal(e: ConfigError): CertgateError {
  const unknown = e.problems.some((p) => p.reason.startsWith('unknown key'));
  const ca = e.problems.some((p) => ['caCertificate', 'caCertificateFile'].includes(String(p.path[0])));
  const code = unknown ? 'identity_unknown_keys' : ca ? 'identity_invalid_ca' : 'identity_invalid';
  const message = e.problems.map((p) => `${p.path.length ? p.path.join('.') : '(identity)'}: ${p.reason}`).join('; ');
  return badRequest(code, message);
}

/** A file identity as the API shows it: its settings, without the parsed bundle. */
function fileDocument(identity: Identity): Record<string, unknown> {
  const { bundle: _bundle, ...doc } = identity;
  return doc;
}

/**
 * `/api/v1/admin/identities[/{id}]`: identities kept in the store (`source: api`) next to those of
 * the file (`source: file`, read-only here). A change is written to the store, applied to this
 * gateway before the answer, and reaches the others through the version poll (src/live).
 */
export function adminIdentityRoutes(r: Router, gw: Gateway): void {
  r.get('/identities', (ctx) => {
    const live = gw.live.current;
    ctx.body = {
      identities: live.identities.map((i) => ({ id: i.config.id, name: i.config.name ?? i.config.id, scopes: i.config.scopes, source: live.sourceOf.get(i.config.id) })),
    };
  });

  r.get('/identities/:id', async (ctx) => {
    const id = ctx.params.id!;
    checkId(id);
    const live = gw.live.current;
    if (live.sourceOf.get(id) === 'file') {
      ctx.body = { source: 'file', identity: fileDocument(live.identityById.get(id)!.config) };
      return;
    }
    const doc = await gw.store.getIdentity(id);
    if (doc === null) throw notFound(id);
    ctx.body = { source: 'api', identity: JSON.parse(doc) };
  });

  r.put('/identities/:id', async (ctx) => {
    const id = ctx.params.id!;
    checkId(id);
    const body = await readJsonObject(ctx, MAX_IDENTITY_BYTES);
    if (body.id !== undefined && body.id !== id) throw badRequest('identity_id_mismatch', `the body's id must equal the path's ("${id}")`);
    if (gw.live.current.sourceOf.get(id) === 'file') throw managedByConfig(id);
    const doc = { ...body, id };
    try {
      buildIdentity(doc, { baseDir: gw.config.baseDir, files: false });
    } catch (e) {
      if (e instanceof ConfigError) throw refusal(e);
      throw e;
    }
    const created = await gw.store.putIdentity(id, JSON.stringify(doc));
    // This gateway applies it before answering; the others within one poll interval.
    await gw.control.syncIdentities(true);
    audit(gw.log, 'admin_identity_put', { identity: id, created, by: 'admin-api' }, created ? 'identity created' : 'identity replaced');
    ctx.status = created ? 201 : 200;
    ctx.body = { source: 'api', identity: doc };
  });

  r.delete('/identities/:id', async (ctx) => {
    const id = ctx.params.id!;
    checkId(id);
    if (gw.live.current.sourceOf.get(id) === 'file') throw managedByConfig(id);
    if (!(await gw.store.deleteIdentity(id))) throw notFound(id);
    // Its tokens die now on every gateway (the watermark is in the store), not at each one's next poll.
    await gw.store.revokeIdentity(id, gw.clock.now());
    await gw.control.syncIdentities(true);
    audit(gw.log, 'admin_identity_deleted', { identity: id, by: 'admin-api' }, 'identity deleted; its tokens are revoked');
    ctx.status = 204;
  });
}
