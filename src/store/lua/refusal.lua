-- Shared prelude, prepended to check.lua and renew.lua so both apply the exact same checks.
-- KEYS[1] = token hash, KEYS[2] = the revoke-all watermark of its slot: the watermark of the token's
-- shard, or for a token of the previous layout the identity's own (see redisKeys()).
-- Numbers are compared with tonumber() but never written back through tostring(): Lua 5.1
-- would print epoch milliseconds as 1.7e+12.
-- Returns the refusal, or nil and the fields read: revoked, serverCreatedAt, expiresAt,
-- usesLimit, usesRemaining, createdAt (so callers need not read them again).
local function refusal(now)
  local f = redis.call('HMGET', KEYS[1], 'revoked', 'serverCreatedAt', 'expiresAt', 'usesLimit', 'usesRemaining', 'createdAt')
  -- Every record has expiresAt, and no script ever writes to a missing token key (nothing
  -- re-creates it): without expiresAt there is no record.
  if not f[3] then return 'not_found' end
  if f[1] == '1' then return 'revoked' end
  -- Revoke-all: the watermark and serverCreatedAt are both stamps of one clock, the TIME of the
  -- identity's home-slot master (put-home.lua, revoke-identity.lua). A record written by an older
  -- version has no serverCreatedAt; its gateway createdAt is all there is.
  local watermark = redis.call('GET', KEYS[2])
  local created = f[2] or f[6]
  if watermark and tonumber(created) <= tonumber(watermark) then return 'revoked' end
  if now >= tonumber(f[3]) then return 'expired' end
  if tonumber(f[4]) > 0 and tonumber(f[5]) <= 0 then return 'uses_exhausted' end
  return nil, f
end
