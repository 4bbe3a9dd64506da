-- check(now, consume): refusal checks, then (consume and limited) take one use, in one step.
-- ARGV[1] = now (epoch ms), ARGV[2] = '1' to consume.
-- Returns {reason} or {'ok', HGETALL} with the uses left after this call.
local reason = refusal(tonumber(ARGV[1]))
if reason then return { reason } end
if ARGV[2] == '1' and tonumber(redis.call('HGET', KEYS[1], 'usesLimit')) > 0 then
  -- The last use leaves the record at 0 so later calls read uses_exhausted, not not_found.
  redis.call('HINCRBY', KEYS[1], 'usesRemaining', -1)
end
return { 'ok', redis.call('HGETALL', KEYS[1]) }
