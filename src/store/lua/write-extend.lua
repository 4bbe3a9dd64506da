-- Shared prelude (after server-time.lua): run a write command on `key`, then move the key's expiry
-- to `expireAt` (epoch ms) unless it already lies later: the certificate index and the
-- revoked-certificate markers each serve several deadlines (tokens of one certificate, repeated
-- revokes) and none may shorten another's. PTTL + TIME rather than PEXPIRETIME, which needs Redis 7.
-- `ttl`: the key's PTTL when the caller has just read it (a login reads the certificate hash's
-- to know it is there), so it is not asked twice.
local function extend_to(key, expireAt, ttl)
  ttl = ttl or redis.call('PTTL', key)
  if ttl == -1 or server_ms() + ttl < tonumber(expireAt) then
    redis.call('PEXPIREAT', key, expireAt)
  end
end

local function write_and_extend(key, expireAt, command, ...)
  redis.call(command, key, ...)
  extend_to(key, expireAt)
end
