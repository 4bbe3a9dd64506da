-- revokeIdentity(): KEYS[1] = watermark. The watermark is the Redis server's TIME
-- (server-time.lua), the clock put.lua stamps serverCreatedAt with; the caller's `at` is not used.
-- Monotonic: a watermark never moves back (a server clock stepped backwards, or an older value
-- written by a previous version from a gateway clock). No expiry: one small key per identity ever
-- revoked, and tokens created before it may live up to the identity's max TTL, which the store
-- does not know. Returns the watermark in force.
local now = server_time()
local current = redis.call('GET', KEYS[1])
if not current or tonumber(now) > tonumber(current) then
  redis.call('SET', KEYS[1], now)
  return now
end
return current
