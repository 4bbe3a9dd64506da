-- revokeIdentity(): KEYS[1] = watermark, KEYS[2] = the identity's outstanding set. The watermark is the Redis server's TIME
-- (server-time.lua), the clock put.lua stamps serverCreatedAt with; the caller's `at` is not used.
-- Monotonic: a watermark never moves back (a server clock stepped backwards, or an older value
-- written by a previous version from a gateway clock). No expiry: one small key per identity ever
-- revoked, and tokens created before it may live up to the identity's max TTL, which the store
-- does not know. Returns the watermark in force.
-- Every token put so far is now covered (put stamps its time in its own atomic script, before or
-- after this one), so none of them is outstanding: the set goes, in the same step — after the
-- watermark is written: a full Redis (noeviction) refuses the SET, and the set must then stay.
local now = server_time()
local current = redis.call('GET', KEYS[1])
if not current or tonumber(now) > tonumber(current) then
  redis.call('SET', KEYS[1], now)
  current = now
end
redis.call('DEL', KEYS[2])
return current
