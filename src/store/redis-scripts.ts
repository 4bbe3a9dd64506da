import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

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

/** Adds certgate's scripts to a client as custom commands (see Scripts). */
export function defineScripts(client: Redis | Cluster): void {
  client.defineCommand('certgatePutHome', { numberOfKeys: 3, lua: script('put-home', ...PUT_HOME_PRELUDES) });
  client.defineCommand('certgatePut', { numberOfKeys: 1, lua: script('put', ...TOKEN_PRELUDES, 'put-token-step') });
  client.defineCommand('certgateLogin', { numberOfKeys: 10, lua: script('login', ...PUT_HOME_PRELUDES, 'put-token-step', 'index-cert-step') });
  client.defineCommand('certgateCheck', { numberOfKeys: 2, lua: script('check', ...TOKEN_PRELUDES) });
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
