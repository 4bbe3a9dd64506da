-- Shared prelude (after server-time.lua): run a write command on `key`, then move the key's expiry
-- to `expireAt` (epoch ms) unless it already lies later: the certificate index and the
-- revoked-certificate markers each serve several deadlines (tokens of one certificate, repeated
-- revokes) and none may shorten another's. PTTL + TIME rather than PEXPIRETIME, which needs Redis 7.
-- `ttl`: the key's PTTL when the caller has just read it (a login reads the certificate hash's
-- to know it is there), so it is not asked twice.
-- `slack` (ms, default 0): when the expiry must move, it moves that much further than needed —
-- KEY_EXPIRY_SLACK_MS (set by the gateway, see src/store/redis-scripts.ts) for the keys every login
-- extends, so the logins within the next minute skip the PEXPIREAT.

local function extend_to(key, expireAt, ttl, slack)
  ttl = ttl or redis.call('PTTL', key)
  local at = tonumber(expireAt)
  if ttl == -1 or server_ms() + ttl < at then
    redis.call('PEXPIREAT', key, slack and at + slack or at)
  end
end

local function write_and_extend(key, expireAt, slack, command, ...)
  redis.call(command, key, ...)
  extend_to(key, expireAt, nil, slack)
end
