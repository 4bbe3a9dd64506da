import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, type Cluster, type Redis } from 'ioredis';

/**
 * When a login must move the expiry of a key it extends at every login (the certificate's index,
 * the identity's outstanding set), it moves it this much further than needed: the logins of the
 * same certificate or identity within that minute find the key late enough and skip the
 * PEXPIREAT (lua/write-extend.lua, lua/outstanding.lua). Those keys may outlive their last token's
 * cap by this much; their readers filter entries by their own expiry. Never the token's own hash
 * (dropped by Redis exactly at its cap) nor a revoked-certificate marker (exactly at notAfter).
 */
export const KEY_EXPIRY_SLACK_MS = 60_000;

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
/** A script with the preludes it calls, in order, after the constants they share with this file. */
const script = (name: string, ...preludes: string[]) =>
  [`local KEY_EXPIRY_SLACK_MS = ${KEY_EXPIRY_SLACK_MS}`, ...[...preludes, name].map(lua)].join('\n');
/** Preludes of the scripts on a token's own slot, and of those on the identity's home slot. */
const TOKEN_PRELUDES = ['server-time', 'deadline', 'refusal'];
const HOME_PRELUDES = ['server-time', 'deadline', 'write-extend', 'outstanding'];
const PUT_HOME_PRELUDES = [...HOME_PRELUDES, 'rate-window', 'put-home-step'];

/** The custom commands defineCommand adds (ioredis runs them with EVALSHA, EVAL on NOSCRIPT). */
export interface Scripts {
  /** After the deadline: maxOutstanding, now, expiresAt, maxExpiresAt, jti, rateLimit, rateWindowMs (see put-home.lua). */
  certgatePutHome(outstanding: string, revoking: string, loginRate: string, deadline: string, ...args: string[]): Promise<unknown>;
  certgatePut(key: string, maxExpiresAt: string, deadline: string, stamp: string, ...fields: string[]): Promise<unknown>;
  certgateCheck(key: string, watermark: string, now: string, consume: '0' | '1', deadline: string, whole: '0' | '1'): Promise<unknown>;
  certgateRenewHome(outstanding: string, revoking: string, jti: string, newExpiresAt: string, now: string): Promise<unknown>;
  certgateRenew(key: string, watermark: string, now: string, newExpiresAt: string, deadline: string): Promise<unknown>;
  certgateForget(outstanding: string, revoking: string, jti: string): Promise<unknown>;
  certgateRevokeToken(key: string): Promise<number>;
  certgateRevokeIdentity(legacyWatermark: string, outstanding: string, revoking: string, revokingStamp: string): Promise<string>;
  certgateRaiseWatermark(watermark: string, stamp: string): Promise<string>;
  certgateRevokeIdentityDone(revoking: string, revokingStamp: string, stamp: string): Promise<number>;
  certgateRate(key: string, limit: string, windowMs: string): Promise<[number, number, number]>;
  certgateExtend(key: string, expireAt: string, command: string, ...args: string[]): Promise<number>;
  certgateIndexCheck(key: string, marker: string, expireAt: string, command: string, ...args: string[]): Promise<number>;
  certgateIndexCert(hash: string, tokens: string, marker: string, maxExpiresAt: string, member: string, ...fields: string[]): Promise<number>;
  certgateLogin(...keysThenArgs: string[]): Promise<unknown>;
  certgateIdentityPut(docs: string, version: string, id: string, doc: string): Promise<number>;
  certgateIdentityDelete(docs: string, version: string, id: string): Promise<number>;
}

/** The scripts of the hottest calls, which sendHotScript sends (see there). */
const HOT_SCRIPTS = {
  certgateLogin: hot(10, script('login', ...PUT_HOME_PRELUDES, 'put-token-step', 'index-cert-step')),
  certgateCheck: hot(2, script('check', ...TOKEN_PRELUDES)),
};
export type HotScript = keyof typeof HOT_SCRIPTS;

/** A hot script through its custom command (on a client, a pipeline or a Cluster). */
export function callScript(target: unknown, name: HotScript, args: string[]): Promise<unknown> {
  return (target as Record<HotScript, (...a: string[]) => Promise<unknown>>)[name](...args);
}

function hot(numberOfKeys: number, lua: string) {
  return { numberOfKeys, keyCount: String(numberOfKeys), lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Adds certgate's scripts to a client as custom commands (see Scripts). */
export function defineScripts(client: Redis | Cluster): void {
  client.defineCommand('certgatePutHome', { numberOfKeys: 3, lua: script('put-home', ...PUT_HOME_PRELUDES) });
  client.defineCommand('certgatePut', { numberOfKeys: 1, lua: script('put', ...TOKEN_PRELUDES, 'put-token-step') });
  for (const [name, { numberOfKeys, lua }] of Object.entries(HOT_SCRIPTS)) client.defineCommand(name, { numberOfKeys, lua });
  client.defineCommand('certgateRenewHome', { numberOfKeys: 2, lua: script('renew-home', ...HOME_PRELUDES) });
  client.defineCommand('certgateRenew', { numberOfKeys: 2, lua: script('renew', ...TOKEN_PRELUDES) });
  client.defineCommand('certgateForget', { numberOfKeys: 2, lua: script('forget') });
  client.defineCommand('certgateRevokeToken', { numberOfKeys: 1, lua: script('revoke-token') });
  client.defineCommand('certgateRevokeIdentity', { numberOfKeys: 4, lua: script('revoke-identity', 'server-time') });
  client.defineCommand('certgateRaiseWatermark', { numberOfKeys: 1, lua: script('raise-watermark') });
  client.defineCommand('certgateRevokeIdentityDone', { numberOfKeys: 2, lua: script('revoke-identity-done') });
  client.defineCommand('certgateRate', { numberOfKeys: 1, lua: script('rate', 'rate-window') });
  client.defineCommand('certgateExtend', { numberOfKeys: 1, lua: script('extend', 'server-time', 'write-extend') });
  client.defineCommand('certgateIndexCheck', { numberOfKeys: 2, lua: script('index-check', 'server-time', 'write-extend') });
  client.defineCommand('certgateIndexCert', { numberOfKeys: 3, lua: script('index-cert', 'server-time', 'write-extend', 'index-cert-step') });
  client.defineCommand('certgateIdentityPut', { numberOfKeys: 2, lua: script('identity-put') });
  client.defineCommand('certgateIdentityDelete', { numberOfKeys: 2, lua: script('identity-delete') });
}

const NO_ARGS: string[] = [];
const UTF8 = { replyEncoding: 'utf8' as const };

/**
 * Sends one of the hottest scripts (the bearer check, the login) as a bare EVALSHA Command on a
 * single-server client, and only on NOSCRIPT (a Redis that restarted or flushed its scripts) as
 * EVAL of the whole script, which loads it again: the same keys and arguments, nothing run twice
 * (NOSCRIPT means Redis ran nothing). Why not through the custom command defineScripts added:
 * ioredis builds every Command with Array.prototype.flat over its arguments, ~0.1 µs per argument
 * (a microsecond per bearer check, four per login: ~40 arguments), plus a wrapper promise and a
 * closure per call for its own NOSCRIPT fallback. These Commands are built with no arguments and
 * given them after.
 */
export function sendHotScript(client: Redis, name: HotScript, args: string[]): Promise<unknown> {
  const s = HOT_SCRIPTS[name];
  return send(client, 'evalsha', s.sha, s.keyCount, args).catch((e: unknown) => {
    if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
    return send(client, 'eval', s.lua, s.keyCount, args);
  });
}

function send(client: Redis, name: 'eval' | 'evalsha', script: string, keyCount: string, args: string[]): Promise<unknown> {
  const command = new Command(name, NO_ARGS, UTF8);
  // concat, not an array literal: the arguments live until Redis answers, and V8 allocated a
  // literal's arrays straight in the old generation once it saw them outlive young collections
  // (allocation-site pretenuring): ~800 bytes per login there, and full collections 3× as often
  // (bench/old-generation.mjs). Arrays made by concat have no allocation site.
  command.args = [script, keyCount].concat(args);
  return client.sendCommand(command) as Promise<unknown>;
}
