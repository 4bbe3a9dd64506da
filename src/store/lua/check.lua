-- check(now, consume): refusal checks, then (consume and limited) take one use, in one step.
-- KEYS[3] = the identity's outstanding set.
-- ARGV[1] = now (epoch ms), ARGV[2] = '1' to consume, ARGV[3] = deadline (deadline.lua), ARGV[4] = jti,
-- ARGV[5] = '1' for the whole record, else only its changing part (checkState: the caller holds the rest).
-- Returns {reason}, {'deadline'}, {'ok', HGETALL} or {'ok', expiresAt, usesRemaining}, with the uses
-- left after this call.
if past_deadline(ARGV[3]) then return { 'deadline' } end
local reason, f = refusal(tonumber(ARGV[1]))
if reason then return { reason } end
local left = f[5]
if ARGV[2] == '1' and tonumber(f[4]) > 0 then
  -- The last use leaves the record at 0 so later calls read uses_exhausted, not not_found.
  left = redis.call('HINCRBY', KEYS[1], 'usesRemaining', -1)
  -- A spent token is no longer outstanding: it stops counting against the identity's quota.
  if left <= 0 then redis.call('ZREM', KEYS[3], ARGV[4]) end
end
if ARGV[5] == '1' then return { 'ok', redis.call('HGETALL', KEYS[1]) } end
return { 'ok', f[3], left }
