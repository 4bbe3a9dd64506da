-- revokeIdentity of the previous key layout (main at ce82794): server-time.lua and revoke-identity.lua, verbatim.
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
