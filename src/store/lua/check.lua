-- check(now, consume): refusal checks, then (consume and limited) take one use, in one step.
-- KEYS[3] = the identity's outstanding set.
-- ARGV[1] = now (epoch ms), ARGV[2] = '1' to consume, ARGV[3] = deadline (deadline.lua), ARGV[4] = jti.
-- Returns {reason}, {'deadline'} or {'ok', HGETALL} with the uses left after this call.
if past_deadline(ARGV[3]) then return { 'deadline' } end
local reason = refusal(tonumber(ARGV[1]))
if reason then return { reason } end
if ARGV[2] == '1' and tonumber(redis.call('HGET', KEYS[1], 'usesLimit')) > 0 then
  -- The last use leaves the record at 0 so later calls read uses_exhausted, not not_found.
  local left = redis.call('HINCRBY', KEYS[1], 'usesRemaining', -1)
  -- A spent token is no longer outstanding: it stops counting against the identity's quota.
  if left <= 0 then redis.call('ZREM', KEYS[3], ARGV[4]) end
end
return { 'ok', redis.call('HGETALL', KEYS[1]) }
