-- check(now, consume): refusal checks, then (consume and limited) take one use, in one step.
-- KEYS as refusal.lua (the token and its shard's watermark, or both of the previous layout).
-- ARGV[1] = now (epoch ms), ARGV[2] = '1' to consume, ARGV[3] = deadline (deadline.lua),
-- ARGV[4] = '1' for the whole record, else only its changing part (checkState: the caller holds the rest).
-- Returns {reason}, {'deadline'}, {'ok', HGETALL, spent} or {'ok', spent, expiresAt, usesRemaining},
-- with the uses left after this call; spent = 1 when this call took the last use: the gateway then
-- removes the token from the identity's outstanding set (another slot; see RedisTokenStore.check).
if past_deadline(ARGV[3]) then return { 'deadline' } end
local reason, f = refusal(tonumber(ARGV[1]))
if reason then return { reason } end
local spent = 0
local left = f[5]
if ARGV[2] == '1' and tonumber(f[4]) > 0 then
  -- The last use leaves the record at 0 so later calls read uses_exhausted, not not_found.
  left = redis.call('HINCRBY', KEYS[1], 'usesRemaining', -1)
  if left <= 0 then spent = 1 end
end
if ARGV[4] == '1' then return { 'ok', redis.call('HGETALL', KEYS[1]), spent } end
return { 'ok', spent, f[3], left }
