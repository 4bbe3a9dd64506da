import type { Logger } from 'pino';

/**
 * The audit catalogue: every audit event certgate emits, with the fields it carries. An audit line
 * is a pino line `{audit: true, event, ...fields}`; `docs/audit-events.md` documents exactly this
 * table and a test keeps the two in step. Fields never hold a token, a key or a raw header.
 */
export const AUDIT_EVENTS = {
  login: { level: 'info', fields: ['outcome', 'reason', 'identity', 'requestedIdentity', 'jti', 'certSha256', 'cn', 'serial', 'peer', 'clientIp', 'direct'], what: 'a login, successful (outcome=success) or refused (outcome=refused, reason = the error code)' },
  renew: { level: 'info', fields: ['outcome', 'reason', 'identity', 'jti', 'clientIp'], what: 'a token renewal, successful or refused' },
  revoke: { level: 'info', fields: ['identity', 'jti'], what: 'a token revoked by its holder' },
  revoke_identity: { level: 'warn', fields: ['identity', 'at', 'by'], what: 'every token of an identity revoked (revoke-all)' },
  token_refused: { level: 'info', fields: ['reason', 'identity', 'jti', 'clientIp', 'path'], what: 'a follow-up call refused for its token (expired, revoked, spent, IP, scope, binding)' },
  introspection: { level: 'info', fields: ['client', 'active', 'identity', 'jti'], what: 'an RFC 7662 introspection answered' },
  admin_identity_put: { level: 'warn', fields: ['identity', 'created', 'by'], what: 'an identity created or replaced through the admin API' },
  admin_identity_deleted: { level: 'warn', fields: ['identity', 'by'], what: 'an identity deleted through the admin API (its tokens die)' },
  config_reloaded: { level: 'info', fields: ['source', 'trigger', 'identities', 'restartRequired'], what: 'the config file reloaded and swapped in' },
  config_reload_failed: { level: 'error', fields: ['source', 'trigger', 'problems'], what: 'a reload refused; the running config stays' },
  key_published: { level: 'info', fields: ['kid', 'alg', 'activatesAt'], what: 'a new signing key appeared in the JWKS' },
  key_activated: { level: 'info', fields: ['kid', 'alg'], what: 'a key started signing' },
  key_retired: { level: 'info', fields: ['kid', 'alg'], what: 'a key left the JWKS after its last token expired' },
  certificate_revoked: { level: 'warn', fields: ['certSha256', 'issuer', 'serial', 'source', 'tokens', 'by'], what: 'a certificate revoked (admin API, CLI, CRL or OCSP): its tokens die, its logins are refused' },
  store_unavailable: { level: 'error', fields: ['err'], what: 'the token store became unreachable: logins and calls answer 503' },
  store_recovered: { level: 'warn', fields: ['downForMs'], what: 'the token store answers again' },
  store_misconfigured: { level: 'error', fields: ['node', 'policy', 'reason'], what: "Redis's maxmemory-policy may evict certgate's keys: logins and calls answer 503 store_misconfigured until it is noeviction" },
} as const satisfies Record<string, { level: 'info' | 'warn' | 'error'; fields: readonly string[]; what: string }>;

export type AuditEvent = keyof typeof AUDIT_EVENTS;
type FieldOf<E extends AuditEvent> = (typeof AUDIT_EVENTS)[E]['fields'][number];

/** Writes one audit line. Only the catalogued fields of the event are accepted (checked by type). */
export function audit<E extends AuditEvent>(log: Logger, event: E, fields: Partial<Record<FieldOf<E>, unknown>>, msg: string = event): void {
  const line: Record<string, unknown> = { audit: true, event, ...fields };
  log[AUDIT_EVENTS[event].level](line, msg);
}
