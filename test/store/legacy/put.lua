-- The token put of the previous key layout (certgate before per-identity shards, main at ce82794):
-- server-time.lua, deadline.lua, outstanding.lua, refusal.lua and put.lua of that version, verbatim,
-- so tests can write a token exactly the way the old code did (see legacy-layout.ts).
-- Shared prelude of put.lua and revoke-identity.lua: the Redis server's clock as epoch
-- milliseconds with microsecond decimals, e.g. '1712345678901.234', built as a string from TIME
-- (Lua 5.1 would print the number as 1.7e+12). Both revoke-all sides take their time here, so a
-- token's creation and an identity's watermark come from one clock (the shard holding the
-- identity's {hash tag}), whatever the clocks of the gateways or of the CLI host say.
-- The decimals keep a token issued just after a revoke-all in the same millisecond valid;
-- tonumber() still compares them with whole-millisecond values written by older versions.
local function server_time()
  local t = redis.call('TIME')
  local us = tonumber(t[2])
  return t[1] .. string.format('%03d.%03d', math.floor(us / 1000), us % 1000)
end

-- The same clock as a number of whole milliseconds, for comparisons only (never written back).
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Shared prelude (after server-time.lua) of every script that changes a token: the gateway passes
-- the Redis time after which it has already answered the caller 503 (or is about to; see
-- src/store/redis-clock.ts). A script that only gets to run later, e.g. because Redis stalled,
-- must change nothing: the caller was told the call failed, so it must cost no use.
-- '0' = no deadline (the gateway has not measured Redis's clock yet).
local function past_deadline(deadline)
  if deadline == '0' then return false end
  return server_ms() > tonumber(deadline)
end
-- Shared prelude (after server-time.lua): the identity's set of outstanding tokens, a sorted set
-- jti → expiresAt under the identity's {hash tag} (same slot as its token hashes). See
-- redisKeys().outstanding for why it is exact and bounded.
-- Adds (or moves) a token, and makes the set live at least as long as the token can: it expires
-- by itself once the last token it could hold is past its hard cap.
local function track(set, jti, expiresAt, maxExpiresAt)
  redis.call('ZADD', set, expiresAt, jti)
  local pttl = redis.call('PTTL', set)
  if pttl < 0 or server_ms() + pttl < tonumber(maxExpiresAt) then
    redis.call('PEXPIREAT', set, maxExpiresAt)
  end
end
-- Shared prelude, prepended to check.lua and renew.lua so both apply the exact same checks.
-- KEYS[1] = token hash, KEYS[2] = the identity's revoke-all watermark (same hash slot).
-- Numbers are compared with tonumber() but never written back through tostring(): Lua 5.1
-- would print epoch milliseconds as 1.7e+12.
local function refusal(now)
  -- EXISTS first: no script ever writes to a missing token key, so nothing re-creates it.
  if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_found' end
  local f = redis.call('HMGET', KEYS[1], 'revoked', 'serverCreatedAt', 'expiresAt', 'usesLimit', 'usesRemaining', 'createdAt')
  if f[1] == '1' then return 'revoked' end
  -- Revoke-all: the watermark and serverCreatedAt both come from Redis TIME (one clock). A record
  -- written by an older version has no serverCreatedAt; its gateway createdAt is all there is.
  local watermark = redis.call('GET', KEYS[2])
  local created = f[2] or f[6]
  if watermark and tonumber(created) <= tonumber(watermark) then return 'revoked' end
  if now >= tonumber(f[3]) then return 'expired' end
  if tonumber(f[4]) > 0 and tonumber(f[5]) <= 0 then return 'uses_exhausted' end
  return nil
end
-- put(): KEYS[1] = token hash, KEYS[2] = the identity's outstanding set.
-- ARGV[1] = maxExpiresAt, ARGV[2] = deadline (deadline.lua), ARGV[3] = maxOutstanding (0 = none),
-- ARGV[4] = now (the record's createdAt), ARGV[5] = expiresAt, ARGV[6] = jti,
-- ARGV[7..] = field, value, ...
-- Create-only: overwriting an existing jti could reset its uses or un-revoke it.
-- Also stamps serverCreatedAt (Redis TIME, see server-time.lua): the revoke-all watermark is
-- compared with it, not with the gateway's createdAt.
-- Returns {'ok'}, {'duplicate'}, {'deadline'} or {'quota', earliest expiresAt in the set}.
if past_deadline(ARGV[2]) then return { 'deadline' } end
if redis.call('EXISTS', KEYS[1]) == 1 then return { 'duplicate' } end
-- Expired tokens leave the count here (expired means now >= expiresAt, as in refusal.lua); the
-- set is trimmed on every put, so it never holds more than the outstanding tokens plus those
-- that expired since the identity's last login.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local max = tonumber(ARGV[3])
if max > 0 and redis.call('ZCARD', KEYS[2]) >= max then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return { 'quota', first[2] }
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('HSET', KEYS[1], 'serverCreatedAt', server_time())
-- Redis drops the record itself at the hard cap (a cap already past deletes it at once).
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
track(KEYS[2], ARGV[6], ARGV[5], ARGV[1])
return { 'ok' }
